// One SAT stage (DESIGN.md §1, Algorithm 1) of a team whose agents all live in this process, top to
// bottom: rollout under pi_cur, rewards, teacher-forced log-probs, advantages, the block order, then
// each agent's KL-bounded update in that order under the sequence-aware estimator, and the stage
// certificate. Every choice is seeded by (team id, stage), as each peer of a real team would make it.
import type { Agent } from './agent/agent.ts';
import { grpoAdvantages } from './agent/advantages.ts';
import { type StageCertificate, stageCertificate } from './agent/certificate.ts';
import { type ChainFormat, type ChainTranscript, finalAnswerText, rollChain, transcriptIds } from './agent/chain.ts';
import { type Problem, pickPrompts } from './agent/dataset.ts';
import { isRatios } from './agent/importance.ts';
import { orderAgents } from './agent/scheduler.ts';
import { type UpdateRecord, trustRegionUpdate } from './agent/update.ts';
import { reward } from './agent/verifier.ts';
import type { ConfigValues } from './config.ts';

export interface Team {
  /** Seeds the stage's prompts and order (the team manifest's id on a network). */
  id: string;
  /** By slot; in the chain, slot i takes turn i. */
  agents: Agent[];
  format: ChainFormat;
  train: readonly Problem[];
}

export interface AgentStageRecord extends Omit<UpdateRecord, 'logpNew'> {
  slot: number;
  name: string;
  /** delta_i, N_i and zeta_i of the certificate. */
  delta: number;
  n: number;
  zeta: number;
}

export interface StageRecord {
  stage: number;
  order: number[];
  /** Mean team reward of the stage's rollouts. */
  reward: number;
  /** Largest |sampling log-prob - teacher-forced log-prob| over all generated tokens. */
  maxLogprobGap: number;
  agents: AgentStageRecord[];
  certificate: StageCertificate;
}

export async function runStage(team: Team, cfg: ConfigValues, stage: number): Promise<StageRecord> {
  const { sat, algorithm, data, generation, certificate } = cfg;
  const seed = `${team.id}:${stage}`;
  const n = team.agents.length;

  // 1. Rollout: G samples of each of the stage's prompts under the current team.
  const prompts = pickPrompts(team.train, Math.min(data.trainBatchSize, team.train.length), seed);
  const groupIndex = prompts.flatMap((_, g) => Array<number>(sat.groupSize).fill(g));
  const transcripts = await rollChain(team.format, team.agents.map((a) => a.generator), groupIndex.map((g) => prompts[g].prompt), {
    maxTurnTokens: data.maxResponseLength, sampling: { temperature: generation.temperature, topK: 0, topP: generation.topP }, seed: cfg.seed * 100003 + stage,
  });
  const rewards = transcripts.map((t, i) => reward(finalAnswerText(team.format, t), prompts[groupIndex[i]].answer));

  // 2. logp_cur of every turn by teacher forcing, as the learner will see it.
  const laid = transcripts.map((t) => transcriptIds(team.format, t));
  const rows = laid.map((l) => l.ids);
  const positions = (slot: number) => laid.map((l) => range(...l.spans[slot]));
  const logpCur = await Promise.all(team.agents.map((a, slot) => a.logprobsAt(rows, positions(slot))));
  const maxLogprobGap = Math.max(0, ...transcripts.flatMap((t, r) => t.turns.flatMap((turn, slot) => turn.logprobs.map((lp, k) => Math.abs(lp - logpCur[slot][r][k])))));

  // 3. Advantages (GRPO): the shared team reward against its group's baseline.
  const advantages = Array.from(grpoAdvantages(rewards, groupIndex, { baseline: sat.groupBaseline, groupNorm: sat.groupNorm, aClip: sat.advantageClip }));

  // 4. The block order sigma; greedy_info_gain predicts each agent's gain by mean |A| over its tokens.
  const predicted = team.agents.map((_, slot) => meanOver(transcripts, (t, r) => t.turns[slot].ids.length * Math.abs(advantages[r]), (t) => t.turns[slot].ids.length));
  const order = orderAgents(sat.scheduler.mode, n, seed, predicted);

  // 5. Updates in order: agent sigma(i) learns under pi^{i-1}, the team with sigma(1..i-1) updated.
  const logpNew: (Float32Array[] | undefined)[] = Array(n).fill(undefined);
  const updated = new Set<number>();
  const records: AgentStageRecord[] = [];
  for (const slot of order) {
    const agent = team.agents[slot];
    const ratios = transcripts.map((t, r) => ownRatios(t, r, slot, logpCur, logpNew, updated, sat.maxIsRatioClip));
    const isWeights = ratios.map((rho) => rho.map((x) => Math.min(1, x)));
    // zeta_i: what truncating rho at 1 drops, in advantage units (A_max * mean (rho - c)).
    const zeta = certificate.advantageMax * meanOver(ratios, (rho) => rho.reduce((s, x) => s + Math.max(0, x - 1), 0), (rho) => rho.length);
    const rec = await trustRegionUpdate(agent, { rows, positions: positions(slot), logpOld: logpCur[slot], isWeights, advantages }, {
      epsilon: sat.epsilon, targetKl: algorithm.klCtrl.targetKl, quantile: algorithm.klCtrl.quantile,
      maxBacktracks: sat.maxBacktracks, steps: cfg.actorRolloutRef.actor.ppoEpochs,
    });
    logpNew[slot] = rec.logpNew;
    updated.add(slot);
    const { logpNew: _, ...kept } = rec;
    records.push({ ...kept, slot, name: agent.name, delta: algorithm.klCtrl.targetKl, n: rows.length, zeta });
  }

  // 6. The stage certificate from every agent's record.
  const cert = stageCertificate({ gamma: algorithm.gamma, aMax: certificate.advantageMax, deltaConf: certificate.deltaConf, agents: records });
  return { stage, order, reward: mean(rewards), maxLogprobGap, agents: records, certificate: cert };
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

/** sum of value(x) / sum of weight(x) over xs (0 when the weights sum to 0). */
function meanOver<T>(xs: readonly T[], value: (x: T, i: number) => number, weight: (x: T, i: number) => number): number {
  let v = 0;
  let w = 0;
  xs.forEach((x, i) => { v += value(x, i); w += weight(x, i); });
  return w > 0 ? v / w : 0;
}

/** rho_t on `slot`'s tokens of trajectory r: the turns in decoding order, updated agents' tokens reweighted. */
function ownRatios(t: ChainTranscript, r: number, slot: number, logpCur: Float32Array[][], logpNew: (Float32Array[] | undefined)[], updated: ReadonlySet<number>, clip: number): Float64Array {
  const agent = t.turns.flatMap((turn) => turn.ids.map(() => turn.slot));
  const cur = t.turns.flatMap((turn) => [...logpCur[turn.slot][r]]);
  const next = t.turns.flatMap((turn) => [...(logpNew[turn.slot]?.[r] ?? logpCur[turn.slot][r])]);
  const rho = isRatios({ agent, logpCur: cur, logpNew: next }, updated, clip);
  return rho.filter((_, k) => agent[k] === slot);
}
