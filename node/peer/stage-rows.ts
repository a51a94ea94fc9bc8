// A peer's stage log as the operator's view reads it (docs/design §5.4, §7): the rows of
// <data-dir>/stage_log.jsonl that are stages (an upgrade's row is not), read again only when the file changed.
import fs from 'node:fs';
import path from 'node:path';
import type { StagePoint } from '../ops/status-snapshot.ts';

/** What the operator's view reads of a logged stage row. */
export interface LoggedRow {
  stage: number;
  reward: number;
  test_accuracy: number;
  time: Record<string, number>;
  seconds: number;
  agents: { slot: number; name: string; klQuantile: number; backtracks: number }[];
}

export const STAGE_LOG = 'stage_log.jsonl';

const isRow = (r: unknown): r is LoggedRow => {
  const row = r as LoggedRow;
  return (
    typeof row?.stage === 'number' &&
    typeof row.reward === 'number' &&
    typeof row.test_accuracy === 'number' &&
    Array.isArray(row.agents)
  );
};

function parse(line: string): LoggedRow | undefined {
  try {
    const r: unknown = JSON.parse(line);
    return isRow(r) ? r : undefined;
  } catch {
    return undefined; // a row cut short by a kill
  }
}

/** The stage rows logged in `dataDir`, oldest first (none when there is no log). */
export function readStageRows(dataDir: string): LoggedRow[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, STAGE_LOG), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((l) => (l.trim() ? (parse(l) ?? []) : []));
}

/** `readStageRows`, read again only when the file's size or time changed. */
export function stageRowsReader(dataDir: string): () => LoggedRow[] {
  let seen = '';
  let rows: LoggedRow[] = [];
  return () => {
    let key = 'none';
    try {
      const st = fs.statSync(path.join(dataDir, STAGE_LOG));
      key = `${st.size}/${st.mtimeMs}`;
    } catch {
      // no log yet
    }
    if (key !== seen) [seen, rows] = [key, readStageRows(dataDir)];
    return rows;
  };
}

/** A row as the chart and the time split show it. */
export const stagePoint = (r: LoggedRow): StagePoint => ({
  stage: r.stage,
  accuracy: r.test_accuracy,
  reward: r.reward,
  time: Object.fromEntries(Object.entries(r.time ?? {}).filter(([, v]) => typeof v === 'number')),
  seconds: r.seconds,
});
