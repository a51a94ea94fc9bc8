// The data dir's status file: written while the process serves, removed when it stops, and taken for none
// when the process that wrote it is gone.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { STATUS_FILE, readStatusFile, removeStatusFile, writeStatusFile } from '../../node/ops/status-file.ts';
import { tempDir } from '../temp-dir.ts';

test("written, read, removed; a dead process's file reads as none", (t) => {
  const dir = tempDir('sat-status-file-');
  t.is(readStatusFile(dir), undefined);
  writeStatusFile(dir, 'http://127.0.0.1:9100/');
  t.deepEqual(readStatusFile(dir), { url: 'http://127.0.0.1:9100/', pid: process.pid });
  removeStatusFile(dir);
  t.false(fs.existsSync(path.join(dir, STATUS_FILE)));
  // A pid no process has (above the kernel's limit).
  fs.writeFileSync(path.join(dir, STATUS_FILE), JSON.stringify({ url: 'http://127.0.0.1:1/', pid: 2 ** 30 }));
  t.is(readStatusFile(dir), undefined);
});
