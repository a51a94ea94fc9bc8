// SIGINT and SIGTERM for a long-running command (`sat-peer start`): stop what has started, say so in one line
// with how to resume, and exit 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). The stage log and
// checkpoints are written atomically at each stage's end, so what the last complete stage saved stays.
import os from 'node:os';

export interface StopSignals {
  /** What a signal stops from now on (before this, a signal exits at once: nothing has started). */
  stopping(stop: () => Promise<unknown>): void;
  /** Stops listening for the signals. */
  off(): void;
}

/** Listens for SIGINT and SIGTERM until `off()`; `dataDir` is where the peer resumes from. */
export function onStopSignals(dataDir: string): StopSignals {
  let stopWhat: () => Promise<unknown> = async () => undefined;
  const stop = (signal: NodeJS.Signals) =>
    void stopWhat()
      .catch(() => undefined)
      .finally(() => {
        process.stderr.write(
          `sat-peer: stopped (${signal}); the same command resumes from the last complete stage saved in ${dataDir}\n`,
        );
        process.exit(128 + os.constants.signals[signal]);
      });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    stopping: (what) => {
      stopWhat = what;
    },
    off: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
