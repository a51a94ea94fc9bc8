// One agent's KL-bounded update inside a stage (docs/design §1.7): gradient steps on the SAT
// policy loss over its own tokens, then a line search along the move they made that the quantile
// trust-region test bounds: the step grows while the test leaves room, and backtracks (growing beta)
// when it fails.
import type { HostTensor } from '../../gpu/ort.ts';
import type { Agent } from '../agent.ts';
import { InputError } from '../errors.ts';
import { VALUE_HEAD } from '../model/value-head.ts';
import { MAX_LOG_RATIO } from './sat-loss.ts';
import { padBatch, seqBucket } from '../model/score.ts';
import type { TrainBatch } from '../train/batch.ts';
import { relaxBall, stage0States } from './stage0/slot.ts';
import { grownStep, klQuantileWithin, nextBeta, perStateKl } from './trust-region.ts';

/** What the updating agent learns from: the stage's trajectories seen from its own tokens. */
export interface UpdateBatch {
  /** Token ids of each trajectory. */
  rows: number[][];
  /** Positions in each row of the agent's own tokens. */
  positions: number[][];
  /** log pi_cur of those tokens (re-scored at the start of the stage). */
  logpOld: Float32Array[];
  /** c_t of those tokens under pi^{i-1} (importance.ts). */
  isWeights: Float64Array[];
  /** One advantage per trajectory. */
  advantages: number[];
  /** GAE mode: per own token the return and V before the update, and the value-loss settings. */
  critic?: { returns: Float64Array[]; valuesOld: Float32Array[]; vfCoef: number; vfClip: number };
}

export interface UpdateConfig {
  epsilon: number;
  /** delta_i: the bound on the KL quantile. */
  targetKl: number;
  quantile: number;
  maxBacktracks: number;
  /** How many times the step may grow past the trained one while the test passes (sat.max_step_growths; 0 if unset). */
  maxGrowths?: number;
  /** Passes over the batch per attempt (ppo_epochs). */
  steps: number;
  /**
   * Trajectories per optimizer step (ppo_mini_batch_size): each pass takes the batch in slices of this many, in
   * order; 0 = all at once.
   */
  miniBatch?: number;
}

export interface UpdateRecord {
  accepted: boolean;
  backtracks: number;
  /** beta after this update (it persists for the agent's next stage). */
  beta: number;
  klQuantile: number;
  /** The kept step along the passes' move, as a multiple of it (0: no move kept, or a Stage-0 slot's ball). */
  step: number;
  /** log pi_new of the agent's tokens after the update (pi_cur's when nothing was accepted). */
  logpNew: Float32Array[];
  /** Importance-weighted surrogate gain: mean over trajectories of cbar (r - 1) A. */
  gain: number;
  /** For a slot still in Stage-0: how its ball was relaxed. */
  stage0?: { deltaFrom: number; delta: number; deltaMax: number; released: boolean };
}

const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
const isPolicy = (tensor: string) => tensor !== VALUE_HEAD.weight && tensor !== VALUE_HEAD.bias;

/**
 * The loss inputs of satPolicyLoss for this batch, padded to a shape bucket: the rows, and at each
 * row's own tokens (TrainBatch.at: the head runs there only) their log-probs, weights and masks.
 */
function trainBatch(b: UpdateBatch, epsilon: number, beta: number): TrainBatch {
  const n = b.rows.length;
  const { ids, mask, seq } = padBatch(b.rows, seqBucket(Math.max(...b.rows.map((r) => r.length))));
  const count = seqBucket(Math.max(1, ...b.positions.map((ps) => ps.length)));
  const index = new BigInt64Array(n * count); // unused slots read index 0, masked out by own_mask
  const [own, logpOld, c, returns, valuesOld] = [0, 1, 2, 3, 4].map(() => new Float32Array(n * count));
  b.positions.forEach((ps, r) =>
    ps.forEach((p, k) => {
      const i = r * count + k;
      index[i] = BigInt(p - 1); // the log-prob of the token at position p
      own[i] = 1;
      logpOld[i] = b.logpOld[r][k];
      c[i] = b.isWeights[r][k];
      if (b.critic) [returns[i], valuesOld[i]] = [b.critic.returns[r][k], b.critic.valuesOld[r][k]];
    }),
  );
  const shape = [n, count];
  const critic = b.critic && {
    returns: f32(shape, returns),
    values_old: f32(shape, valuesOld),
    vf_coef: f32([], Float32Array.of(b.critic.vfCoef)),
    vf_clip: f32([], Float32Array.of(b.critic.vfClip)),
  };
  return {
    batch: n,
    seq,
    inputIds: ids,
    attentionMask: mask,
    at: { index, count },
    extra: {
      logp_old: f32(shape, logpOld),
      own_mask: f32(shape, own),
      is_weights: f32(shape, c),
      advantages: f32([n], Float32Array.from(b.advantages)),
      clip_eps: f32([], Float32Array.of(epsilon)),
      kl_beta: f32([], Float32Array.of(beta)),
      ...critic,
    },
  };
}

/** The batch in slices of `size` trajectories, in order (the whole batch when size is 0 or not smaller). */
export function miniBatches(b: UpdateBatch, size: number): UpdateBatch[] {
  if (size <= 0 || size >= b.rows.length) return [b];
  const out: UpdateBatch[] = [];
  for (let at = 0; at < b.rows.length; at += size) {
    const cut = <T>(xs: readonly T[]) => xs.slice(at, at + size);
    out.push({
      rows: cut(b.rows),
      positions: cut(b.positions),
      logpOld: cut(b.logpOld),
      isWeights: cut(b.isWeights),
      advantages: cut(b.advantages),
      ...(b.critic
        ? { critic: { ...b.critic, returns: cut(b.critic.returns), valuesOld: cut(b.critic.valuesOld) } }
        : {}),
    });
  }
  return out;
}

/**
 * A mini-batch as the micro-batches of `size` rows its agent's memory allows (one: all of it), each
 * weighted by its share of the agent's tokens — the loss is a mean over them, so the weighted
 * micro-batch gradients sum to the mini-batch's.
 */
function microBatches(
  b: UpdateBatch,
  size: number,
  epsilon: number,
  beta: number,
): { batch: TrainBatch; weight: number }[] {
  const own = (x: UpdateBatch) => x.positions.reduce((s, p) => s + p.length, 0);
  const total = Math.max(1, own(b));
  return miniBatches(b, size).map((m) => ({ batch: trainBatch(m, epsilon, beta), weight: own(m) / total }));
}

/**
 * Surrogate gain of an update, as the loss measures it: mean over trajectories of (mean own c_t) *
 * (min(r A, clip(r, 1 +- eps) A) - A), r the sequence ratio (its log clipped like the loss's).
 */
export function surrogateGain(b: UpdateBatch, logpNew: readonly Float32Array[], epsilon: number): number {
  let sum = 0;
  b.rows.forEach((_, r) => {
    const k = b.logpOld[r].length;
    if (k === 0) return;
    let logR = 0;
    let cbar = 0;
    for (let j = 0; j < k; j++) {
      logR += logpNew[r][j] - b.logpOld[r][j];
      cbar += b.isWeights[r][j] / k;
    }
    const ratio = Math.exp(Math.max(-MAX_LOG_RATIO, Math.min(MAX_LOG_RATIO, logR)));
    const a = b.advantages[r];
    sum += cbar * (Math.min(ratio * a, Math.max(1 - epsilon, Math.min(1 + epsilon, ratio)) * a) - a);
  });
  return sum / b.rows.length;
}

/**
 * Gradient steps, then a line search along the move theta_1 - theta_0 they made (docs/design §1.9): each step
 * theta_0 + s (theta_1 - theta_0) is scored and tested. From s = 1 the step grows while the test passes (up to
 * maxGrowths times) and the largest that passed is kept; while it fails (up to maxBacktracks times) s is halved
 * and beta grows by 1.5 for the agent's later updates. If no step fits, parameters and optimizer state are
 * restored to `start` (a snapshot of the trainer as it is now: the caller's, to go back to later).
 */
export async function trustRegionUpdate(
  agent: Agent,
  b: UpdateBatch,
  cfg: UpdateConfig,
  start = agent.trainer.snapshot(),
): Promise<UpdateRecord> {
  const batches = miniBatches(b, cfg.miniBatch ?? 0).map((m) =>
    microBatches(m, agent.microBatch, cfg.epsilon, agent.beta),
  );
  for (let s = 0; s < cfg.steps; s++) {
    for (const parts of batches)
      await (parts.length === 1 ? agent.trainer.trainStep(parts[0].batch) : agent.trainer.accumulatedStep(parts));
  }
  // The next update's lengths may differ: the training sessions' memory is not held until then.
  await agent.trainer.releaseSessions();
  const trained = agent.trainer.snapshot();
  // Any step keeps the optimizer state the passes left: the moments have seen the batch whatever step is kept. The
  // search is over the policy: a value head (GAE) stays as the passes trained it.
  const moveTo = (step: number) => agent.trainer.interpolate(trained, start, 1 - step, isPolicy);
  let last = 1; // the step the agent's parameters are at
  const stepTo = async (step: number) => {
    if (step !== 1) moveTo(step);
    last = step;
    const logpNew = await agent.logprobsAt(b.rows, b.positions);
    // Per-state KL proxy of each trajectory over the agent's tokens; its quantile must stay within delta_i.
    const kls = b.rows.map((_, r) => (b.logpOld[r].length ? perStateKl(b.logpOld[r], logpNew[r]) : 0));
    return { step, logpNew, ...klQuantileWithin(kls, cfg.quantile, cfg.targetKl) };
  };
  const accept = (at: Awaited<ReturnType<typeof stepTo>>, backtracks: number): UpdateRecord => ({
    accepted: true,
    backtracks,
    beta: agent.beta,
    klQuantile: at.klQuantile,
    step: at.step,
    logpNew: at.logpNew,
    gain: surrogateGain(b, at.logpNew, cfg.epsilon),
  });
  let at = await stepTo(1);
  if (at.within) {
    let failed = Infinity;
    for (let growth = 0; growth < (cfg.maxGrowths ?? 0); growth++) {
      const step = grownStep(at.step, at.klQuantile, cfg.targetKl, failed);
      if (step === undefined) break;
      // A step grown so far that a log-prob is no longer finite fails the test like one past delta.
      const next = await stepTo(step).catch((e: unknown) => {
        if (e instanceof InputError) return undefined;
        throw e;
      });
      if (next?.within) at = next;
      else failed = step;
    }
    if (failed === last) moveTo(at.step);
    return accept(at, 0);
  }
  for (let attempt = 1; attempt <= cfg.maxBacktracks; attempt++) {
    agent.beta = nextBeta(agent.beta);
    at = await stepTo(0.5 ** attempt);
    if (at.within) return accept(at, attempt);
  }
  agent.trainer.restore(start);
  agent.beta = nextBeta(agent.beta);
  return {
    accepted: false,
    backtracks: cfg.maxBacktracks + 1,
    beta: agent.beta,
    klQuantile: at.klQuantile,
    step: 0,
    logpNew: b.logpOld,
    gain: 0,
  };
}

/**
 * The update of a slot still in Stage-0 (docs/design §1.12): the newcomer's parameters stay and
 * its KL ball around the incumbent grows as far as the same quantile test allows (relaxBall); once the
 * ball binds at none of the stage's states the incumbent is let go and later stages train the
 * newcomer as any agent.
 */
export async function stage0Update(agent: Agent, b: UpdateBatch, cfg: UpdateConfig): Promise<UpdateRecord> {
  const slot = agent.stage0;
  if (!slot) throw new Error(`agent '${agent.name}' is not in Stage-0`);
  const states = await stage0States(agent.scorer, slot.incumbent.scorer, b.rows, b.positions);
  const r = await relaxBall(states, slot.incumbent.projector, b.logpOld, slot.delta, cfg);
  const deltaFrom = slot.delta;
  slot.delta = r.delta;
  if (r.released) await agent.releaseIncumbent();
  return {
    // Released, the newcomer's own policy is the slot's from now on, even where the ball did not have to grow for it.
    accepted: r.delta > deltaFrom || r.released,
    backtracks: r.rejected,
    beta: agent.beta,
    klQuantile: r.klQuantile,
    step: 0,
    logpNew: r.logpNew,
    gain: surrogateGain(b, r.logpNew, cfg.epsilon),
    stage0: { deltaFrom, delta: r.delta, deltaMax: r.deltaMax, released: r.released },
  };
}
