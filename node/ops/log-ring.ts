// The latest warnings and errors a process printed, for the status page (docs/design §7): its log lines
// pass through here, and those that read as a warning or an error are kept, the last few only.
import type { LogEntry } from './status-snapshot.ts';

/** How many lines are kept. */
export const LOG_LINES = 20;

const ERROR = /\b(error|failed|fails|cannot|can't|refus\w*|exited|crash\w*|corrupt)\b/i;
// Not `waiting`: a peer waits for its team, or for an incumbent's hand-over, as a matter of course; a wait that
// runs long has a line of its own ("waited 60 s for ...").
const WARN =
  /\b(warn\w*|not read|could not|timed out|timeout|retry\w*|lost|silent|gave up|skipp\w*|took over|stall\w*|waited|dropped|killed)\b/i;

/** The level a log line reads as, or undefined for an ordinary line. */
export function levelOf(line: string): LogEntry['level'] | undefined {
  if (ERROR.test(line)) return 'error';
  if (WARN.test(line)) return 'warn';
  return undefined;
}

export interface LogRing {
  /** Notes one printed line; kept when it is a warning or an error. */
  note(line: string): void;
  /** The kept lines, oldest first. */
  entries(): LogEntry[];
}

export function logRing(size = LOG_LINES): LogRing {
  const kept: LogEntry[] = [];
  return {
    note(line) {
      const level = levelOf(line);
      if (!level) return;
      kept.push({ time: Date.now(), level, line });
      if (kept.length > size) kept.shift();
    },
    entries: () => kept.slice(),
  };
}
