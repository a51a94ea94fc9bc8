// A bin of this package as a real process, its stdout's JSON lines read as they come: for the tests that
// run peers as their users do.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT } from '../cli/run-cli.ts';

export interface BinProcess {
  child: ChildProcess;
  /** The next line (of `event`, skipping others), once it comes; throws if the process exits first. */
  next: (event?: string) => Promise<Record<string, unknown>>;
  /** What the process wrote to stderr so far. */
  stderr: () => string;
}

export function runBin(bin: string, args: string[]): BinProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', bin), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiting: (() => void)[] = [];
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(JSON.parse(l));
    waiting.splice(0).forEach((w) => w());
  });
  const next = async (event?: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const i = lines.findIndex((l) => event === undefined || l.event === event);
      if (i >= 0) return lines.splice(0, i + 1).at(-1)!;
      if (child.exitCode !== null)
        throw new Error(`${bin} exited (${child.exitCode}) before ${event ?? 'a line'}: ${err.slice(-2000)}`);
      await new Promise<void>((r) => {
        waiting.push(r);
        setTimeout(r, 500);
      });
    }
  };
  return { child, next, stderr: () => err };
}

export const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', r)));
