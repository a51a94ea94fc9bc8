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
