// A peer's stage log as the operator's view reads it (docs/design §5.4, §7): the rows of its stage log
// (node/sat/stage-log.ts) that are whole stages — an upgrade's row is not, nor a row short of a field the view
// shows — read again only when the file changed.
import fs from 'node:fs';
import type { StagePoint } from '../ops/status-snapshot.ts';
import { readStageLog, stageLogIn } from '../sat/stage-log.ts';

/** What the operator's view reads of a logged stage row. */
export interface LoggedRow {
  stage: number;
  reward: number;
  test_accuracy: number;
  time: Record<string, number>;
  seconds: number;
  agents: { slot: number; name: string; klQuantile: number; backtracks: number }[];
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const isAgent = (a: unknown): boolean =>
  isObject(a) && typeof a.name === 'string' && typeof a.klQuantile === 'number' && typeof a.backtracks === 'number';

/** Whether `r` holds every field the view reads, of its type. */
const isRow = (r: unknown): r is LoggedRow =>
  isObject(r) &&
  typeof r.stage === 'number' &&
  typeof r.reward === 'number' &&
  typeof r.test_accuracy === 'number' &&
  typeof r.seconds === 'number' &&
  isObject(r.time) &&
  Array.isArray(r.agents) &&
  r.agents.every(isAgent);

/** The stage rows logged in `dataDir`, oldest first (none when there is no log, or it cannot be read). */
export function readStageRows(dataDir: string): LoggedRow[] {
  try {
    return readStageLog(dataDir).filter(isRow);
  } catch {
    return [];
  }
}

/** `readStageRows`, read again only when the file's size or time changed. */
export function stageRowsReader(dataDir: string): () => LoggedRow[] {
  let seen = '';
  let rows: LoggedRow[] = [];
  return () => {
    let key = 'none';
    try {
      const st = fs.statSync(stageLogIn(dataDir));
      key = `${st.size}/${st.mtimeMs}`;
    } catch {
      // no log yet
    }
    if (key !== seen) [seen, rows] = [key, readStageRows(dataDir)];
    return rows;
  };
}

/** A row as the chart and the time split show it (a part of the time that is no number left out). */
export const stagePoint = (r: LoggedRow): StagePoint => ({
  stage: r.stage,
  accuracy: r.test_accuracy,
  reward: r.reward,
  time: Object.fromEntries(Object.entries(r.time).filter(([, v]) => typeof v === 'number')),
  seconds: r.seconds,
});
