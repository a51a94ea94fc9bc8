// One SAT stage (docs/design §1, Algorithm 1), top to bottom, in the chain or ensemble workflow: rollout
// under pi_cur, rewards, teacher-forced log-probs, advantages, the block order, then each agent's
// KL-bounded update in that order under the sequence-aware estimator, and the stage certificate.
// Every choice is seeded by (team id, stage), so each peer of a network team makes it alike. The same
// code runs a team whose agents all live in this process and one peer's share of a network team: a
// slot whose agent runs elsewhere takes its turns and makes its update through the StageLink.
import type { Agent } from '../agent/agent.ts';
import { gaeSequenceAdvantages, grpoAdvantages } from '../agent/learner/advantages.ts';
import { type StageCertificate, stageCertificate } from './certificate.ts';
import {
  type ChainFormat,
  type ChainTranscript,
  type RemoteTurn,
  finalAnswerText,
  memberLineups,
  memberSeed,
  rollLineup,
  transcriptIds,
} from '../tasks/chain.ts';
import { type Problem, pickPrompts, seededRng } from '../tasks/dataset.ts';
import { isRatios, truncate } from '../agent/learner/importance.ts';
import { orderAgents } from './scheduler.ts';
import { type UpdateRecord, stage0Update, trustRegionUpdate } from '../agent/learner/update.ts';
import { reward } from '../tasks/verifier.ts';
import type { ConfigValues } from '../config/load.ts';

/** The agents a stage runs: all of them (a local team), or this peer's slot of a network team. */
export interface StageTeam {
  /** Seeds the stage's prompts and order: the run's seed (team.ts runSeed), alike on every peer. */
  runSeed: string;
  /** By slot; in the chain, slot i takes turn i. Undefined where the slot's agent runs on another peer. */
  agents: readonly (Agent | undefined)[];
  format: ChainFormat;
  train: readonly Problem[];
}

export interface Team extends StageTeam {
  agents: Agent[];
}

/**
 * What an agent's update makes known to the agents after it: its log-probs on its own tokens before and after, and
 * its record.
 */
export interface SharedUpdate {
  /**
   * Its tokens' log-probs under pi_cur and under its new policy: the transcripts it spoke in, in rollout order, its
   * turns' tokens in order.
   */
  logpCur: Float32Array;
  logpNew: Float32Array;
  record: AgentStageRecord;
}

/** How a stage reaches the slots whose agents run on other peers (a network team; see node/peer/peer-link.ts). */
export interface StageLink {
  /** The turns of a remote `slot` in rollout `rollout` (e.g. 'train/0') of `stage`, from its peer. */
  remoteTurn(stage: number, rollout: string, slot: number): RemoteTurn;
  /** Shares the turns taken here in `rollout` with the peers of later turns (and every learner). */
  shareTurn(stage: number, rollout: string, transcripts: readonly ChainTranscript[]): Promise<void>;
  /** The stage's order is known: the token starts moving. */
  setOrder(stage: number, order: number[]): void;
  /**
   * The update of order position `position` by a remote `slot`, once made; undefined when the slot skipped the stage
   * (its peer went silent).
   */
  receiveUpdate(stage: number, position: number, slot: number): Promise<SharedUpdate | undefined>;
  /**
   * Waits until this peer holds the token for `position`: true; false when the stage went on without this peer's
   * update (it was taken over).
   */
  awaitTurn(stage: number, position: number): Promise<boolean>;
  /** Publishes this peer's update of `position` and passes the token on. */
  sendUpdate(stage: number, position: number, update: SharedUpdate): Promise<void>;
}

export interface AgentStageRecord extends Omit<UpdateRecord, 'logpNew'> {
  slot: number;
  name: string;
  /** Mean reward of the rollouts the agent spoke in (the team's in the chain, its own in the ensemble). */
  reward: number;
  /** delta_i, N_i and zeta_i of the certificate. */
  delta: number;
  n: number;
  zeta: number;
  /** Largest |sampling log-prob - teacher-forced log-prob| over the agent's tokens. */
  gap: number;
  /** Set when the agent's peer fell silent while it held the token: the stage went on without its update. */
  skipped?: true;
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
  /**
   * Where this process's stage time went, in seconds: the rollout and its scoring (other peers'
   * turns included), its agents' updates, and waiting on the link for the token and other peers' updates.
   */
  time: StageTime;
}

export interface StageTime {
  rollout: number;
  update: number;
  network: number;
  /** The held-out evaluation after the stage (its caller's). */
  eval?: number;
}

export async function runStage(
  team: StageTeam,
  cfg: ConfigValues,
  stage: number,
  link?: StageLink,
): Promise<StageRecord> {
  const { sat, algorithm, data, generation, certificate } = cfg;
  const seed = `${team.runSeed}:${stage}`;
  const n = team.agents.length;
  const f = team.format;
  const remote = (what: string) => {
    if (!link) throw new Error(`runStage: a slot has no agent here and no link to its peer (${what})`);
    return link;
  };
  const time: StageTime = { rollout: 0, update: 0, network: 0 };
  const timed = async <T>(phase: keyof StageTime, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      time[phase] += (performance.now() - t0) / 1000;
    }
  };
  const t0 = performance.now();

  // 1. Rollout: G samples of each of the stage's prompts under the current team. In the chain the
  // agents take turns on one transcript; in the ensemble each answers alone, in its own group.
  const prompts = pickPrompts(team.train, Math.min(data.trainBatchSize, team.train.length), seed);
  const samples = prompts.flatMap((_, g) => Array<number>(sat.groupSize).fill(g));
  const options = {
    maxTurnTokens: data.maxResponseLength,
    sampling: { temperature: generation.temperature, topK: 0, topP: generation.topP },
    seed: Math.floor(seededRng(`sample:${seed}:${cfg.seed}`)() * 2 ** 31),
  };
  const transcripts: ChainTranscript[] = [];
  const groupIndex: number[] = [];
  const promptOf: number[] = [];
  for (const [k, slots] of memberLineups(cfg.team.workflow, n).entries()) {
    const rollout = `train/${k}`;
    const takers = slots.map((s) => team.agents[s]?.policy ?? remote('rollout').remoteTurn(stage, rollout, s));
    const onTurn = link && ((ts: readonly ChainTranscript[]) => link.shareTurn(stage, rollout, ts));
    const out = await rollLineup(
      f,
      takers,
      samples.map((g) => prompts[g].prompt),
      { ...options, slots, seed: memberSeed(options.seed, k), ...(onTurn ? { onTurn } : {}) },
    );
    transcripts.push(...out);
    groupIndex.push(...samples.map((g) => k * prompts.length + g));
    promptOf.push(...samples);
  }
  const rewards = transcripts.map((t, r) => reward(finalAnswerText(f, t), prompts[promptOf[r]].answer));

  // 2. logp_cur of every turn by teacher forcing, as the learner will see it; each agent here scores
  // the transcripts it spoke in (a remote agent's come with its update).
  const laid = transcripts.map((t) => transcriptIds(f, t));
  const rows = laid.map((l) => l.ids);
  const spoke = (slot: number) => transcripts.flatMap((t, r) => (t.turns.some((u) => u.slot === slot) ? [r] : []));
  const ownPositions = (r: number, slot: number) =>
    transcripts[r].turns.flatMap((u, k) => (u.slot === slot ? range(...laid[r].spans[k]) : []));
  const turnCur: Float32Array[][] = transcripts.map((t) => t.turns.map(() => new Float32Array(0)));
  const turnValues: Float32Array[][] = transcripts.map((t) => t.turns.map(() => new Float32Array(0)));
  for (const [slot, agent] of team.agents.entries()) {
    if (!agent) continue;
    const rs = spoke(slot);
    const scored = await agent.scoreAt(
      rs.map((r) => rows[r]),
      rs.map((r) => ownPositions(r, slot)),
    );
    rs.forEach((r, i) => {
      splitTurns(transcripts[r], slot, scored.logprobs[i]).forEach((x, k) => {
        if (x) turnCur[r][k] = x;
      });
      if (scored.values)
        splitTurns(transcripts[r], slot, scored.values[i]).forEach((x, k) => {
          if (x) turnValues[r][k] = x;
        });
    });
  }
  time.rollout = (performance.now() - t0) / 1000;
  const gapOf = (slot: number) => {
    let gap = 0;
    for (const r of spoke(slot))
      transcripts[r].turns.forEach((turn, k) => {
        if (turn.slot === slot)
          turn.logprobs.forEach((lp, j) => {
            gap = Math.max(gap, Math.abs(lp - turnCur[r][k][j]));
          });
      });
    return gap;
  };

  // 3. Advantages, per agent over the transcripts it spoke in. GRPO: each sample's reward against its
  // group's baseline. GAE: the agent's value head over its own tokens, the reward at its last one.
  const own = (r: number, slot: number, per: Float32Array[][]) =>
    concat(transcripts[r].turns.flatMap((u, k) => (u.slot === slot ? [per[r][k]] : [])));
  const grpo = Array.from(
    grpoAdvantages(rewards, groupIndex, {
      baseline: sat.groupBaseline,
      groupNorm: sat.groupNorm,
      aClip: sat.advantageClip,
    }),
  );
  const gae = team.agents.map((agent, slot) => {
    if (sat.advMode !== 'gae' || !agent) return undefined;
    const rs = spoke(slot);
    const tokenRewards = rs.map((r) => {
      const x = new Float64Array(ownPositions(r, slot).length);
      x[x.length - 1] = rewards[r];
      return x;
    });
    return gaeSequenceAdvantages(
      tokenRewards,
      rs.map((r) => own(r, slot, turnValues)),
      rs.map((r) => groupIndex[r]),
      { gamma: algorithm.gamma, lam: algorithm.lam, aClip: sat.advantageClip },
    );
  });
  const advantagesOf = (slot: number) => {
    if (sat.advMode === 'gae' && !gae[slot])
      throw new Error(`runStage: GAE advantages of slot ${slot} need its value head, on its own peer`);
    return gae[slot] ? Array.from(gae[slot]!.sequenceAdvantages) : spoke(slot).map((r) => grpo[r]);
  };

  // 4. The block order sigma; greedy_info_gain predicts each agent's gain by mean |A| over its tokens.
  const predicted = () =>
    team.agents.map((_, slot) => {
      const adv = advantagesOf(slot);
      return meanOver(
        spoke(slot).map((r, i) => ({ r, a: adv[i] })),
        ({ r, a }) => ownPositions(r, slot).length * Math.abs(a),
        ({ r }) => ownPositions(r, slot).length,
      );
    });
  const order = orderAgents(sat.scheduler.mode, n, seed, sat.scheduler.mode === 'greedy_info_gain' ? predicted() : []);
  link?.setOrder(stage, order);

  // 5. Updates in order: agent sigma(i) learns under pi^{i-1}, the team with sigma(1..i-1) updated. A
  // newcomer still in Stage-0 relaxes its KL ball under the same test instead of taking gradient steps.
  // A remote agent's update arrives with its log-probs; one whose peer fell silent is skipped.
  const turnNew: (Float32Array | undefined)[][] = transcripts.map((t) => t.turns.map(() => undefined));
  const updated = new Set<number>();
  const records: AgentStageRecord[] = [];
  const nameOf = (slot: number) => cfg.sat.agents[slot]?.name ?? `slot ${slot}`;
  for (const [position, slot] of order.entries()) {
    const agent = team.agents[slot];
    const rs = spoke(slot);
    const keep = (lps: readonly Float32Array[], into: (Float32Array | undefined)[][]) =>
      rs.forEach((r, i) =>
        splitTurns(transcripts[r], slot, lps[i]).forEach((x, k) => {
          if (x) into[r][k] = x;
        }),
      );
    if (!agent) {
      const got = await timed('network', () => remote('update').receiveUpdate(stage, position, slot));
      if (!got) {
        records.push(skippedRecord(slot, nameOf(slot), mean(rs.map((r) => rewards[r]))));
        continue;
      }
      const counts = rs.map((r) => ownPositions(r, slot).length);
      keep(cut(got.logpCur, counts), turnCur);
      keep(cut(got.logpNew, counts), turnNew);
      updated.add(slot);
      records.push(agentRecord(got.record));
      continue;
    }
    if (link && !(await timed('network', () => link.awaitTurn(stage, position)))) {
      records.push(skippedRecord(slot, nameOf(slot), mean(rs.map((r) => rewards[r]))));
      continue;
    }
    const ratios = rs.map((r) => ownRatios(transcripts[r], slot, turnCur[r], turnNew[r], updated, sat.maxIsRatioClip));
    const isWeights = ratios.map(truncate);
    // zeta_i: what truncating rho at 1 drops, in advantage units (A_max * mean (rho - c)).
    const zeta =
      certificate.advantageMax *
      meanOver(
        ratios,
        (rho) => rho.reduce((s, x) => s + Math.max(0, x - 1), 0),
        (rho) => rho.length,
      );
    const critic = gae[slot] && {
      returns: gae[slot]!.returns,
      valuesOld: rs.map((r) => own(r, slot, turnValues)),
      vfCoef: cfg.training.vfCoef,
      vfClip: cfg.training.clipVf ? VALUE_CLIP : Infinity,
    };
    const batch = {
      rows: rs.map((r) => rows[r]),
      positions: rs.map((r) => ownPositions(r, slot)),
      logpOld: rs.map((r) => own(r, slot, turnCur)),
      isWeights,
      advantages: advantagesOf(slot),
      ...(critic ? { critic } : {}),
    };
    const update = agent.stage0 ? stage0Update : trustRegionUpdate;
    const rec = await timed('update', () =>
      update(agent, batch, {
        epsilon: sat.epsilon,
        targetKl: algorithm.klCtrl.targetKl,
        quantile: algorithm.klCtrl.quantile,
        maxBacktracks: sat.maxBacktracks,
        steps: cfg.actorRolloutRef.actor.ppoEpochs,
        miniBatch: cfg.actorRolloutRef.actor.ppoMiniBatchSize,
      }),
    );
    keep(rec.logpNew, turnNew);
    updated.add(slot);
    const { logpNew, ...kept } = rec;
    // An update that was not kept moved nothing: no occupancy shift, no estimator bias.
    const record = agentRecord({
      ...kept,
      slot,
      name: agent.name,
      reward: mean(rs.map((r) => rewards[r])),
      delta: rec.accepted ? algorithm.klCtrl.targetKl : 0,
      n: rs.length,
      zeta: rec.accepted ? zeta : 0,
      gap: gapOf(slot),
    });
    records.push(record);
    if (link)
      await timed('network', () =>
        link.sendUpdate(stage, position, {
          logpCur: concat(rs.map((r) => own(r, slot, turnCur))),
          logpNew: concat(logpNew),
          record,
        }),
      );
  }

  // 6. The stage certificate from every agent's record.
  const cert = stageCertificate({
    gamma: algorithm.gamma,
    aMax: certificate.advantageMax,
    deltaConf: certificate.deltaConf,
    agents: records.filter((a) => !a.skipped),
  });
  const maxLogprobGap = Math.max(0, ...records.map((a) => a.gap));
  const ms = (x: number) => Math.round(x * 1000) / 1000;
  return {
    stage,
    order,
    reward: mean(rewards),
    maxLogprobGap,
    agents: records,
    certificate: cert,
    time: { rollout: ms(time.rollout), update: ms(time.update), network: ms(time.network) },
  };
}

/** An agent's record with its fields in one order, wherever it was made (so every peer writes the same rows). */
function agentRecord(r: AgentStageRecord): AgentStageRecord {
  const { slot, name, accepted, backtracks, beta, klQuantile, gain, reward, delta, n, zeta, gap, stage0, skipped } = r;
  return {
    slot,
    name,
    accepted,
    backtracks,
    beta,
    klQuantile,
    gain,
    reward,
    delta,
    n,
    zeta,
    gap,
    ...(stage0 ? { stage0 } : {}),
    ...(skipped ? { skipped } : {}),
  };
}

/** The record of an agent that made no update this stage: nothing moved, nothing learned from. */
function skippedRecord(slot: number, name: string, reward: number): AgentStageRecord {
  return agentRecord({
    slot,
    name,
    reward,
    accepted: false,
    skipped: true,
    backtracks: 0,
    beta: 0,
    klQuantile: 0,
    gain: 0,
    delta: 0,
    n: 0,
    zeta: 0,
    gap: 0,
  });
}

/** `flat` cut into consecutive pieces of `counts` values. */
function cut(flat: Float32Array, counts: readonly number[]): Float32Array[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (flat.length !== total)
    throw new Error(`an update carries ${flat.length} log-probs where the agent spoke ${total} tokens`);
  let at = 0;
  return counts.map((c) => flat.slice(at, (at += c)));
}

/** How far V may move from V_old in one update when training.clip_vf is on (verl's cliprange_value). */
const VALUE_CLIP = 0.5;

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

/** sum of value(x) / sum of weight(x) over xs (0 when the weights sum to 0). */
function meanOver<T>(xs: readonly T[], value: (x: T) => number, weight: (x: T) => number): number {
  let v = 0;
  let w = 0;
  for (const x of xs) {
    v += value(x);
    w += weight(x);
  }
  return w > 0 ? v / w : 0;
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * `slot`'s log-probs over its turns of `t` (in turn order), cut back into one array per turn (undefined for other
 * slots' turns).
 */
function splitTurns(t: ChainTranscript, slot: number, lps: Float32Array): (Float32Array | undefined)[] {
  let at = 0;
  return t.turns.map((u) => {
    if (u.slot !== slot) return undefined;
    at += u.ids.length;
    return lps.slice(at - u.ids.length, at);
  });
}

/**
 * rho_t on `slot`'s tokens of a transcript: its turns in decoding order, updated agents' tokens
 * reweighted (only theirs are read: a remote agent's not updated yet are not known here).
 */
function ownRatios(
  t: ChainTranscript,
  slot: number,
  cur: readonly Float32Array[],
  next: readonly (Float32Array | undefined)[],
  updated: ReadonlySet<number>,
  clip: number,
): Float64Array {
  const agent = t.turns.flatMap((turn) => turn.ids.map(() => turn.slot));
  const read = (k: number, x: Float32Array | undefined) =>
    updated.has(t.turns[k].slot) ? [...x!] : t.turns[k].ids.map(() => 0);
  const logpCur = t.turns.flatMap((_, k) => read(k, cur[k]));
  const logpNew = t.turns.flatMap((_, k) => read(k, next[k] ?? cur[k]));
  const rho = isRatios({ agent, logpCur, logpNew }, updated, clip);
  return rho.filter((_, k) => agent[k] === slot);
}
