// One peer per data dir: two peers in one would share an identity, claims and checkpoints. A running peer
// holds `<data dir>/peer.pid` (its process id, created exclusively); a file left by a process that is gone
// is taken over.
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../agent/errors.ts';

export const LOCK_FILE = 'peer.pid';

/** The process id of the live peer holding `dir`, if one does. */
export function dataDirHolder(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined; // EPERM: alive, another user's
  }
}

/** Holds `dir` for this process (made if missing); the function that lets it go. */
export function lockDataDir(dir: string): () => void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())
    throw new InputError(`the data dir ${dir} is a file: give --data-dir a folder (made if missing)`);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (;;) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        if (dataDirHolder(dir) === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = dataDirHolder(dir);
      if (pid !== undefined)
        throw new InputError(
          `the data dir ${dir} is in use by another peer (pid ${pid}): give each peer its own --data-dir`,
        );
      fs.rmSync(file, { force: true }); // its peer is gone
    }
  }
}
