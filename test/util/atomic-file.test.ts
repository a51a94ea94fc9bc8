import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../node/util/atomic-file.ts';
import { tempDir } from '../temp-dir.ts';

test('writes and replaces a file whole, creating its folder, and leaves no temporary file behind', (t) => {
  const dir = tempDir('sat-atomic-');
  const file = path.join(dir, 'a/b/state.json');
  writeFileAtomic(file, 'one');
  writeFileAtomic(file, 'two');
  t.is(fs.readFileSync(file, 'utf8'), 'two');
  t.deepEqual(fs.readdirSync(path.dirname(file)), ['state.json']);
  // A target that cannot be replaced (a folder) fails, keeps it, and removes the temporary file.
  fs.mkdirSync(path.join(dir, 'taken'));
  t.throws(() => writeFileAtomic(path.join(dir, 'taken'), 'x'));
  t.deepEqual(fs.readdirSync(dir).sort(), ['a', 'taken']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a secret's mode applies to the file and the folders made for it; without one, the umask's defaults do", (t) => {
  const dir = tempDir('sat-atomic-');
  writeFileAtomic(path.join(dir, 'secret/key'), 'k', 0o600);
  t.is(fs.statSync(path.join(dir, 'secret/key')).mode & 0o777, 0o600);
  t.is(fs.statSync(path.join(dir, 'secret')).mode & 0o777, 0o700);
  const umask = process.umask();
  writeFileAtomic(path.join(dir, 'plain/file'), 'x');
  t.is(fs.statSync(path.join(dir, 'plain/file')).mode & 0o777, 0o666 & ~umask);
  t.is(fs.statSync(path.join(dir, 'plain')).mode & 0o777, 0o777 & ~umask);
  fs.rmSync(dir, { recursive: true, force: true });
});
