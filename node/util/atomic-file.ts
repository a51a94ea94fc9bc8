// Writing a file so that a reader (or a process killed mid-write) sees the old content or the new,
// never a part: a temporary file in the same folder (created with the final mode), fsync, rename,
// fsync the folder.
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `data` to `file` atomically. With a `mode` (a secret's 0o600), the file gets that mode and missing folders
 * 0o700; without, both get the process's defaults (the umask applies).
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode?: number): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, ...(mode === undefined ? {} : { mode: 0o700 }) });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w', mode ?? 0o666);
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
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
