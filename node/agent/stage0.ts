// Stage-0 of plug-and-play (DESIGN.md §1): the per-state KL projection of a stronger model pi_pre onto
// the ball KL(. || pi_cur) <= delta_0 around the incumbent, along the geometric mixture
// pi_new ∝ pi_pre^{1/(1+lambda)} pi_cur^{lambda/(1+lambda)}. Everything runs on log-probabilities
// (log-sum-exp), so -Infinity logits (masked tokens) are exact zeros and nothing underflows.
import { InputError } from './errors.ts';

export interface Stage0Projection {
  /** pi_new(.|s), a distribution over the vocabulary. */
  piNew: Float64Array;
  /** lambda(s) >= 0: 0 when pi_pre is already inside the ball, Infinity when only pi_cur itself fits. */
  lambda: number;
  /** KL(pi_new || pi_cur) in nats, <= delta_0. */
  kl: number;
}

/**
 * Bisection steps on the mixture weight w = 1/(1+lambda) in [0, 1]: 64 halvings leave w exact to
 * double precision, so KL(pi_new || pi_cur) lands on delta_0 from below (the reference's 30 steps on
 * lambda in [0, 1e4] stop about 1e-5 short in lambda; both give the same pi_new to 1e-7).
 */
export const BISECTION_STEPS = 64;

/** Stage-0 projection (DESIGN §1, Plug-and-play): pi_new ∝ pi_pre^{1/(1+λ)} pi_cur^{λ/(1+λ)}, smallest λ >= 0 with KL(pi_new||pi_cur) <= delta_0. */
export function stage0Project(logitsPre: ArrayLike<number>, logitsCur: ArrayLike<number>, delta0: number): Stage0Projection {
  if (logitsPre.length !== logitsCur.length) {
    throw new InputError(`Stage-0 needs both models' logits over one vocabulary: ${logitsPre.length} vs ${logitsCur.length} entries`);
  }
  if (!(delta0 >= 0) || !Number.isFinite(delta0)) throw new InputError(`delta_0 must be a finite number >= 0, got ${delta0}`);
  const logPre = logSoftmax(logitsPre, 'logitsPre');
  const logCur = logSoftmax(logitsCur, 'logitsCur');
  const klPre = klDivergence(logPre, logCur);
  if (klPre <= delta0) return { piNew: logPre.map(Math.exp), lambda: 0, kl: klPre };
  // KL(pi_w || pi_cur) grows with w; w = 0 (pi_cur, KL 0) is always feasible, w = 1 (pi_pre) is not.
  let feasible = 0;
  let infeasible = 1;
  for (let step = 0; step < BISECTION_STEPS; step++) {
    const w = (feasible + infeasible) / 2;
    const mixture = geometricMixture(logPre, logCur, w);
    if (mixture && klDivergence(mixture, logCur) <= delta0) feasible = w;
    else infeasible = w;
  }
  // A w > 0 is only ever kept after its mixture was computed and found inside the ball.
  const logNew = feasible === 0 ? logCur : geometricMixture(logPre, logCur, feasible)!;
  return { piNew: logNew.map(Math.exp), lambda: (1 - feasible) / feasible, kl: klDivergence(logNew, logCur) };
}

/** The geometric mixture of DESIGN §1 in log space: log pi_w = w log pi_pre + (1-w) log pi_cur - logZ; null when the supports do not meet. */
function geometricMixture(logPre: Float64Array, logCur: Float64Array, w: number): Float64Array | null {
  return logNormalize(logPre.map((lp, i) => w * lp + (1 - w) * logCur[i]!));
}

/** KL(p || q) = sum_a p(a) (log p(a) - log q(a)) in nats, with 0 log 0 = 0. */
function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    if (logP[i] === -Infinity) continue;
    kl += Math.exp(logP[i]!) * (logP[i]! - logQ[i]!);
  }
  return kl;
}

function logSoftmax(logits: ArrayLike<number>, name: string): Float64Array {
  for (let i = 0; i < logits.length; i++) {
    if (Number.isNaN(logits[i]) || logits[i] === Infinity) throw new InputError(`${name}[${i}] must be a number or -Infinity, got ${logits[i]}`);
  }
  const log = logNormalize(Float64Array.from(logits));
  if (!log) throw new InputError(`${name} gives no token any probability: every entry is -Infinity (or the array is empty)`);
  return log;
}

/** x - logsumexp(x), or null when no entry is finite. */
function logNormalize(x: Float64Array): Float64Array | null {
  const max = x.reduce((a, b) => Math.max(a, b), -Infinity);
  if (max === -Infinity) return null;
  const logZ = max + Math.log(x.reduce((sum, v) => sum + Math.exp(v - max), 0));
  return x.map((v) => v - logZ);
}
