// The stage log, <save_dir>/stage_log.jsonl: one JSON row per stage, appended once the stage is saved and
// evaluated (docs/design §5.4). A row cut short by a kill, or of a stage never saved, is trimmed on reopening.
import fs from 'node:fs';
import path from 'node:path';
import type { SatConfig } from '../config/load.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';

/** The log's file name: in a save dir (a peer's data dir), and among a slot state's files. */
export const STAGE_LOG = 'stage_log.jsonl';

/** The log's file in `dir`, a save dir. */
export const stageLogIn = (dir: string) => path.join(dir, STAGE_LOG);

/** The log's file. */
export const stageLog = (cfg: SatConfig) => stageLogIn(cfg.logging.saveDir);

/** The stage of one row of the log; undefined for a row that is not whole JSON (cut short by a kill). */
function stageOfRow(line: string): number | undefined {
  try {
    return (JSON.parse(line) as { stage: number }).stage;
  } catch {
    return undefined;
  }
}

/** The log's lines in `log`, blank ones left out; none when there is no log. */
const linesOf = (log: string): string[] => {
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
};

const rows = (cfg: SatConfig): string[] => linesOf(stageLog(cfg));

/**
 * The rows of the stage log in `dir` (a save dir), parsed, oldest first: none when there is no log, and a row that
 * is not whole JSON (cut short by a kill) left out. What a row holds is the reader's to check.
 */
export function readStageLog(dir: string): unknown[] {
  return linesOf(stageLogIn(dir)).flatMap((l) => {
    try {
      return [JSON.parse(l) as unknown];
    } catch {
      return [];
    }
  });
}

/** Whether <save_dir>/stage_log.jsonl has a row of `stage`. */
export function loggedStage(cfg: SatConfig, stage: number): boolean {
  return rows(cfg).some((l) => stageOfRow(l) === stage);
}

/** Appends one row to <save_dir>/stage_log.jsonl. */
export function appendStageLog(cfg: SatConfig, row: { stage: number; [key: string]: unknown }): void {
  fs.mkdirSync(cfg.logging.saveDir, { recursive: true });
  fs.appendFileSync(stageLog(cfg), `${JSON.stringify(row)}\n`);
}

/**
 * Drops the log's rows of stages >= `stage` (logged, never saved: they are redone), and a last row cut short by a
 * kill.
 */
export function trimStageLog(cfg: SatConfig, stage: number): void {
  const lines = rows(cfg);
  const kept = lines.filter((l) => (stageOfRow(l) ?? Infinity) < stage);
  if (kept.length !== lines.length) writeFileAtomic(stageLog(cfg), kept.map((l) => `${l}\n`).join(''));
}
