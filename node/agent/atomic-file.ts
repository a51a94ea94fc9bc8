// Writing a file so that a reader (or a process killed mid-write) sees the old content or the new,
// never a part: a temporary file in the same folder, fsync, rename over the target.
import fs from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
