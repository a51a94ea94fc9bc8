// The stage loop of a team, in this process (`sat-peer train`) or as one peer of a network team: each stage
// runs, is saved with its record, is evaluated on the held-out set, and is logged as one row of
// stage_log.jsonl. Saved before its evaluation, a stage survives a kill during it: the run restarts from
// that stage and evaluates it again (resumeEvaluation) instead of losing its update.
import type { SatConfig } from '../config/load.ts';
import type { Problem } from '../tasks/dataset.ts';
import {
  type EvalTeam,
  type StageEvalLink,
  type StageEvaluation,
  type StageRow,
  evalOptions,
  stageEvaluation,
  stageRow,
  teamAccuracy,
} from './evaluate.ts';
import { type StageLink, type StageRecord, type StageTeam, runStage } from './stage.ts';
import { latestStageFolder, saveStage, savedRecord } from './checkpoints.ts';
import { appendStageLog, loggedStage, trimStageLog } from './stage-log.ts';

/** The agents a loop runs (all of the team's, or a peer's one) and how the team answers. */
export type LoopTeam = StageTeam & EvalTeam;

/** A stage logged: its record, its row and what the row says of the held-out set. */
export interface LoggedStage {
  stage: number;
  record: StageRecord;
  row: StageRow;
  testAccuracy: number;
  /** The stage's seconds, its evaluation included. */
  seconds: number;
}

/** What the loop runs, and what differs between a team in this process and a peer of a network team. */
export interface StageLoop {
  cfg: SatConfig;
  team: LoopTeam;
  /** The held-out problems of each stage's row. */
  test: readonly Problem[];
  /** How a stage reaches the slots whose agents run on other peers. */
  link?: StageLink;
  /** How `stage`'s evaluation reaches them. */
  evalLink?: (stage: number) => StageEvalLink;
  /**
   * Readies `stage` before it runs (runStages): true when this loop's agents take part in it, 'follow' when they only
   * follow it as the others make it, checking their slot's updates (a replica of a slot another peer trains); false
   * ends the loop before it.
   */
  beforeStage?: (stage: number) => Promise<boolean | 'follow'>;
  /** Hears a stage saved, as its evaluation starts. */
  onEvaluate?: (stage: number) => void;
  /** Hears each stage logged. */
  onStage?: (s: LoggedStage) => void;
}

/**
 * Runs stages `from`..`to` (each readied by `beforeStage`, which may end the loop early); resolves with the last
 * stage logged.
 */
export async function runStages(loop: StageLoop, from: number, to: number): Promise<number> {
  for (let stage = from; stage <= to; stage++) {
    const ready = loop.beforeStage ? await loop.beforeStage(stage) : true;
    if (!ready) return stage - 1;
    if (ready === true) await stageStep(loop, stage);
    else await followStage(loop, stage, true);
  }
  return Math.max(from - 1, to);
}

/** One stage: run, saved with its record, evaluated, logged. */
export async function stageStep(loop: StageLoop, stage: number): Promise<LoggedStage> {
  const t0 = Date.now();
  const record = await runStage(loop.team, loop.cfg, stage, loop.link);
  saveStage(loop.cfg, loop.team, stage, record);
  loop.onEvaluate?.(stage);
  return logStage(loop, record, await evaluate(loop, stage), t0);
}

/**
 * A stage that goes on without this loop's agents (a peer that restarted after its rollout, docs/design §5.2; a
 * replica, §4.16): followed through the link as the others make it, evaluated alongside, then saved and logged like
 * any. A restarted peer's agents take their turns in the evaluation (the others wait for them); a replica's
 * (`replica`) follow that too, and check their slot's updates.
 */
export async function followStage(loop: StageLoop, stage: number, replica = false): Promise<LoggedStage> {
  const t0 = Date.now();
  const observed = observedTeam(loop.team);
  const slot = loop.team.agents.findIndex((a) => a !== undefined);
  const checking = replica && slot >= 0 ? { ...observed, replica: { slot, agent: loop.team.agents[slot]! } } : observed;
  const [record, evaluated] = await Promise.all([
    runStage(checking, loop.cfg, stage, loop.link),
    evaluate(loop, stage, replica ? observed : loop.team),
  ]);
  saveStage(loop.cfg, loop.team, stage, record);
  return logStage(loop, record, evaluated, t0);
}

/** Evaluates again, and logs, a stage saved with its record whose evaluation was cut short (unloggedStage). */
export async function resumeEvaluation(loop: StageLoop, record: StageRecord): Promise<LoggedStage> {
  const t0 = Date.now();
  return logStage(loop, record, await evaluate(loop, record.stage), t0);
}

/**
 * Readies the stage log to go on after `saved`, the last saved stage: drops the rows past it (logged, never saved),
 * and gives its record when its row was never logged (killed during its evaluation: resumeEvaluation redoes it).
 */
export function unloggedStage(cfg: SatConfig, saved: number): StageRecord | undefined {
  trimStageLog(cfg, saved + 1);
  const folder = latestStageFolder(cfg);
  return folder && saved > 0 && !loggedStage(cfg, saved) ? savedRecord(folder) : undefined;
}

/**
 * The team's greedy accuracy on the held-out set as it is (before `stage`); NaN without one. With `follow`, this loop's
 * agents take no turns: every turn is read through the link.
 */
export async function greedyAccuracy(loop: StageLoop, stage: number, follow = false): Promise<number> {
  if (loop.test.length === 0) return NaN;
  const team = follow ? observedTeam(loop.team) : loop.team;
  return teamAccuracy(
    team,
    loop.test,
    loop.cfg.data.maxResponseLength,
    team.agents.map((a) => a?.policy),
    loop.evalLink?.(stage),
  );
}

/** The team with none of its agents here: a stage followed through the link. */
const observedTeam = (team: LoopTeam): LoopTeam => ({ ...team, agents: team.agents.map(() => undefined) });

/** Logs a stage saved and evaluated, and reports it. */
function logStage(
  loop: StageLoop,
  record: StageRecord,
  [evaluation, evalSeconds]: [StageEvaluation, number],
  t0: number,
): LoggedStage {
  record.time.eval = evalSeconds;
  const seconds = (Date.now() - t0) / 1000;
  const row = stageRow(record, evaluation, seconds);
  appendStageLog(loop.cfg, { ...row });
  const logged = { stage: record.stage, record, row, testAccuracy: evaluation.testAccuracy, seconds };
  loop.onStage?.(logged);
  return logged;
}

/** The held-out metrics of `stage`'s row (as every peer and `train` log them), and the seconds they took. */
async function evaluate(loop: StageLoop, stage: number, team = loop.team): Promise<[StageEvaluation, number]> {
  const t0 = Date.now();
  const o = evalOptions(loop.cfg, stage);
  const evaluation =
    loop.test.length === 0
      ? { testAccuracy: NaN, avgAtK: NaN, passAtK: NaN, k: o.k, alone: team.agents.map(() => NaN) }
      : await stageEvaluation(team, loop.test, o, loop.evalLink?.(stage));
  return [evaluation, Math.round(Date.now() - t0) / 1000];
}
