// The stage's trajectories (docs/design §1.3, §1.4): sampled under pi_cur, laid out in ids as the
// learner reads them, and per turn the log-probs and values the stage learns of them, each written by
// the agent that took the turn (here, or on its own peer through the StageLink).
import type { Agent } from '../agent/agent.ts';
import {
  type ChainFormat,
  type ChainTranscript,
  finalAnswerText,
  memberLineups,
  memberSeed,
  type TranscriptLayout,
  rollLineup,
} from '../tasks/chain.ts';
import { pickPrompts, seededRng } from '../tasks/dataset.ts';
import { reward } from '../tasks/verifier.ts';
import { concat, mean, range } from '../util/arrays.ts';
import type { TurnMaker } from './stage.ts';
import { type StageRun, linkOf } from './stage-run.ts';

/** One trajectory of the stage's batch B. */
export interface Trajectory {
  transcript: ChainTranscript;
  reward: number;
  /** Its group (GRPO's baseline, GAE's normalisation): its prompt within its member rollout. */
  group: number;
  /** Kept from the updates: the stage's reward change is measured on it (docs/design §1.11). */
  heldOut: boolean;
  /** Where each turn's tokens are read in context (ChainFormat.layout). */
  layout: TranscriptLayout;
  /** Per turn: log pi_cur by teacher forcing, V of its states (GAE mode), and log pi_new once its agent updated. */
  logpCur: Float32Array[];
  values: Float32Array[];
  logpNew: (Float32Array | undefined)[];
}

/** The stage's batch B, in rollout order: each member rollout's samples, prompt by prompt. */
export type StageRollout = Trajectory[];

/** What the stage learns of each turn's tokens. */
type PerTurn = 'logpCur' | 'values' | 'logpNew';

/**
 * G samples of each of the stage's prompts under pi_cur (docs/design §1.3). In the chain the agents take turns
 * on one transcript; in the ensemble each answers alone, in its own groups (docs/design §1.1).
 */
export async function rollOut(run: StageRun): Promise<StageRollout> {
  const { team, cfg, seed, link } = run;
  const { data, generation, sat } = cfg;
  const prompts = pickPrompts(team.train, Math.min(data.trainBatchSize, team.train.length), seed);
  // The last prompts of the seeded pick are held out, two at least or none (docs/design §1.11).
  const held = Math.floor(cfg.certificate.holdout * prompts.length);
  const learned = prompts.length - (held >= 2 ? held : 0);
  const samples = prompts.flatMap((_, g) => Array<number>(sat.groupSize).fill(g));
  const options = {
    maxTurnTokens: data.maxResponseLength,
    sampling: { temperature: generation.temperature, topK: 0, topP: generation.topP },
    seed: Math.floor(seededRng(`sample:${seed}:${cfg.seed}`)() * 2 ** 31),
  };
  const rollout: StageRollout = [];
  for (const [k, slots] of memberLineups(cfg.team.workflow, team.agents.length).entries()) {
    const name = `train/${k}`;
    // A slot's agent here takes its turns, or its share of them when the slot has replicas (docs/design §4.17).
    const here = (s: number) => team.agents[s] ?? (team.replica?.slot === s ? team.replica.agent : undefined);
    const maker = (s: number, agent = here(s)): TurnMaker | undefined =>
      agent && { generator: agent.policy, rescore: (ts) => turnGaps(team.format, agent, s, ts) };
    const takers = slots.map(
      (s) =>
        link?.sharedTurn?.(run.stage, name, s, maker(s)) ??
        team.agents[s]?.policy ??
        linkOf(run, 'rollout').remoteTurn(run.stage, name, s),
    );
    const onTurn = link && ((ts: readonly ChainTranscript[]) => link.shareTurn(run.stage, name, ts));
    const transcripts = await rollLineup(
      team.format,
      takers,
      samples.map((g) => prompts[g].prompt),
      { ...options, slots, seed: memberSeed(options.seed, k), ...(onTurn ? { onTurn } : {}) },
    );
    for (const [i, t] of transcripts.entries()) {
      const g = samples[i];
      rollout.push(trajectory(team.format, t, k * prompts.length + g, prompts[g].answer, g >= learned));
    }
  }
  return rollout;
}

/** A sampled transcript as the stage's trajectory: rewarded, laid out, its turns not scored yet. */
function trajectory(
  f: ChainFormat,
  transcript: ChainTranscript,
  group: number,
  answer: string,
  heldOut: boolean,
): Trajectory {
  const unscored = () => transcript.turns.map(() => new Float32Array(0));
  return {
    transcript,
    reward: reward(finalAnswerText(f, transcript), answer),
    group,
    heldOut,
    layout: f.layout(transcript),
    logpCur: unscored(),
    values: unscored(),
    logpNew: transcript.turns.map(() => undefined),
  };
}

/**
 * log pi_cur of every turn taken here by teacher forcing, as the learner will see it (docs/design §1.4), with V
 * where the agent has a value head. Each agent here scores the transcripts it spoke in; a remote agent's come with
 * its update.
 */
export async function scoreOwnTurns(rollout: StageRollout, agents: readonly (Agent | undefined)[]): Promise<void> {
  for (const [slot, agent] of agents.entries()) {
    if (!agent) continue;
    const rows = rowsOf(rollout, slot);
    const scored = await agent.scoreAt(
      rows.map((t) => ownIds(t, slot)),
      rows.map((t) => ownPositions(t, slot)),
    );
    setOwnTokens(rows, slot, scored.logprobs, 'logpCur');
    if (scored.values) setOwnTokens(rows, slot, scored.values, 'values');
  }
}

/** The trajectories `slot` spoke in (N_i of them), in rollout order. */
export const rowsOf = (rollout: StageRollout, slot: number): Trajectory[] => rollout.filter((t) => spokeIn(t, slot));

/** Whether `slot` took a turn in `t`. */
export const spokeIn = (t: Trajectory, slot: number): boolean => t.transcript.turns.some((u) => u.slot === slot);

/** A transcript as laid out for the learner: what ownIds and ownPositions read. */
type LaidOut = Pick<Trajectory, 'transcript' | 'layout'>;

/** The turns `slot` took in `t`, by index. */
const ownTurns = (t: LaidOut, slot: number): number[] =>
  t.transcript.turns.flatMap((u, k) => (u.slot === slot ? [k] : []));

/**
 * The ids `slot` is scored and trained on in `t`: the sequence its turns are read in (one for all of them), up to
 * its last token. The model is causal, so what follows changes none of its log-probs, and an early turn's agent
 * runs on a shorter row.
 */
export function ownIds(t: LaidOut, slot: number): number[] {
  const turns = ownTurns(t, slot);
  const [sequence, ...others] = new Set(turns.map((k) => t.layout.turns[k].sequence));
  if (sequence === undefined) throw new Error(`slot ${slot} took no turn in this trajectory`);
  if (others.length) throw new Error(`slot ${slot}'s turns are not read in one sequence`);
  return t.layout.sequences[sequence].slice(0, Math.max(...turns.map((k) => t.layout.turns[k].span[1])));
}

/** Where `slot`'s tokens sit in ownIds, its turns in order. */
export const ownPositions = (t: LaidOut, slot: number): number[] =>
  ownTurns(t, slot).flatMap((k) => range(...t.layout.turns[k].span));

/** `slot`'s tokens' `per` values in `t`, its turns in order. */
export const ownTokens = (t: Trajectory, slot: number, per: 'logpCur' | 'values'): Float32Array =>
  concat(t.transcript.turns.flatMap((u, k) => (u.slot === slot ? [t[per][k]] : [])));

/** Writes one array per row of `slot`'s tokens' `per` values (ownTokens' layout) into the rows' turns. */
export function setOwnTokens(
  rows: readonly Trajectory[],
  slot: number,
  values: readonly Float32Array[],
  per: PerTurn,
): void {
  rows.forEach((t, i) => {
    let at = 0;
    t.transcript.turns.forEach((u, k) => {
      if (u.slot !== slot) return;
      t[per][k] = values[i].slice(at, (at += u.ids.length));
    });
  });
}

/** The mean reward of `rows`, summed in rollout order. */
export const meanReward = (rows: readonly Trajectory[]): number => mean(rows.map((t) => t.reward));

/** Largest |sampling log-prob - teacher-forced log-prob| over `slot`'s tokens of `rows`. */
export function scoringGap(rows: readonly Trajectory[], slot: number): number {
  let gap = 0;
  for (const t of rows)
    t.transcript.turns.forEach((turn, k) => {
      if (turn.slot === slot)
        turn.logprobs.forEach((lp, j) => {
          gap = Math.max(gap, Math.abs(lp - t.logpCur[k][j]));
        });
    });
  return gap;
}

/**
 * Per transcript, the largest |sampling log-prob - teacher-forced log-prob| over `slot`'s tokens, scored by `agent`:
 * turns another peer made, re-scored here (docs/design §4.17).
 */
export async function turnGaps(
  f: ChainFormat,
  agent: Agent,
  slot: number,
  transcripts: readonly ChainTranscript[],
): Promise<number[]> {
  const rows = transcripts.map((transcript) => ({ transcript, layout: f.layout(transcript) }));
  const scored = await agent.scoreAt(
    rows.map((t) => ownIds(t, slot)),
    rows.map((t) => ownPositions(t, slot)),
  );
  return transcripts.map((t, i) => {
    const sampled = t.turns.flatMap((u) => (u.slot === slot ? u.logprobs : []));
    return sampled.reduce((gap, lp, j) => Math.max(gap, Math.abs(lp - scored.logprobs[i][j])), 0);
  });
}
