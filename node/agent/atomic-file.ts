// Writing a file so that a reader (or a process killed mid-write) sees the old content or the new,
// never a part: a temporary file in the same folder, fsync, rename over the target, fsync the folder.
import fs from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, text: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, typeof text === 'string' ? Buffer.from(text) : text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    syncFolder(path.dirname(path.resolve(file)));
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Makes a rename in `dir` durable (its folder entry reaches the disk); a no-op where folders cannot be opened. */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some filesystems refuse to fsync a folder; the rename itself is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
