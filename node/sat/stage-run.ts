// One stage as its steps see it: the team, the config, the stage's number and seed, the link to the
// slots whose agents run elsewhere, and where the stage's time goes.
import type { ConfigValues } from '../config/load.ts';
import type { StageLink, StageTeam, StageTime } from './stage.ts';

export interface StageRun {
  team: StageTeam;
  cfg: ConfigValues;
  stage: number;
  /** Seeds the stage's prompts, samples and order: `${runSeed}:${stage}`, alike on every peer. */
  seed: string;
  link: StageLink | undefined;
  time: StageTime;
}

/** The link to the peers of the slots with no agent here; `what` names the step that needs it. */
export function linkOf(run: StageRun, what: string): StageLink {
  if (!run.link) throw new Error(`runStage: a slot has no agent here and no link to its peer (${what})`);
  return run.link;
}

/** `work`, its seconds added to the stage's `phase`. */
export async function timed<T>(
  run: StageRun,
  phase: Exclude<keyof StageTime, 'eval'>,
  work: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    run.time[phase] += (performance.now() - t0) / 1000;
  }
}
