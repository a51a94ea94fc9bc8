// Where a running process's status page is, for `sat-peer status --data-dir` (docs/design §7): a small file
// in its data dir, written atomically once the server listens and removed when the process stops. A file
// whose process is gone (killed) is taken for none.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';

export const STATUS_FILE = 'status.json';

export interface StatusFile {
  url: string;
  pid: number;
}

const fileIn = (dataDir: string) => path.join(dataDir, STATUS_FILE);

export function writeStatusFile(dataDir: string, url: string): void {
  writeFileAtomic(fileIn(dataDir), `${JSON.stringify({ url, pid: process.pid } satisfies StatusFile)}\n`);
}

/** Removes the file if it is this process's. */
export function removeStatusFile(dataDir: string): void {
  if (readStatusFile(dataDir)?.pid === process.pid) fs.rmSync(fileIn(dataDir), { force: true });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The running process's page in `dataDir`, or undefined when none runs there. */
export function readStatusFile(dataDir: string): StatusFile | undefined {
  try {
    const f = JSON.parse(fs.readFileSync(fileIn(dataDir), 'utf8')) as StatusFile;
    return typeof f.url === 'string' && Number.isInteger(f.pid) && alive(f.pid) ? f : undefined;
  } catch {
    return undefined;
  }
}
