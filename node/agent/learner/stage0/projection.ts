// Stage-0 of plug-and-play (docs/design §1.12): the per-state KL projection of a stronger model pi_pre onto
// the ball KL(. || pi_cur) <= delta_0 around the incumbent, along the geometric mixture
// pi_new ∝ pi_pre^{1/(1+lambda)} pi_cur^{lambda/(1+lambda)}. Everything runs on log-probabilities
// (log-sum-exp), so -Infinity logits (masked tokens) are exact zeros and nothing underflows.
// This is the definition in float64, state by state; teams run projection-graph.ts, checked against it.
import { InputError } from '../../errors.ts';

export interface Stage0Projection {
  /** pi_new(.|s), a distribution over the vocabulary. */
  piNew: Float64Array;
  /** lambda(s) >= 0: 0 when pi_pre is already inside the ball, Infinity when only pi_cur itself fits. */
  lambda: number;
  /** KL(pi_new || pi_cur) in nats, <= delta_0. */
  kl: number;
}

/** Solver iterations at most (Newton steps, bisection where Newton would leave the bracket). */
const MAX_ITERATIONS = 200;
/**
 * The solver stops once KL(pi_new || pi_cur) lies in [delta_0 (1 - 2 TOL), delta_0] (or as close as rounding allows).
 */
const TOL = 1e-11;

/**
 * Stage-0 projection (docs/design §1.12, Plug-and-play): pi_new ∝ pi_pre^{1/(1+λ)} pi_cur^{λ/(1+λ)}, smallest λ >= 0
 * with KL(pi_new||pi_cur) <= delta_0.
 */
export function stage0Project(
  logitsPre: ArrayLike<number>,
  logitsCur: ArrayLike<number>,
  delta0: number,
): Stage0Projection {
  if (logitsPre.length !== logitsCur.length) {
    throw new InputError(
      `Stage-0 needs both models' logits over one vocabulary: ${logitsPre.length} vs ${logitsCur.length} entries`,
    );
  }
  if (!(delta0 >= 0) || !Number.isFinite(delta0))
    throw new InputError(`delta_0 must be a finite number >= 0, got ${delta0}`);
  const { logNew, lambda, kl } = projectLogprobs(
    logSoftmax(logitsPre, 'logitsPre'),
    logSoftmax(logitsCur, 'logitsCur'),
    delta0,
  );
  return { piNew: logNew.map(Math.exp), lambda, kl };
}

/**
 * The projection on normalized log-probabilities (log pi_pre, log pi_cur), as log pi_new. It solves
 * for the mixture weight w = 1/(1+lambda) in [0, 1]: KL(pi_w || pi_cur) = w E_w[d] - log Z(w) with
 * d = log pi_pre - log pi_cur grows with w (its slope is w Var_w[d]), so Newton steps kept inside a
 * bracket [feasible, infeasible] land on delta_0 from below in a few passes over the vocabulary.
 */
export function projectLogprobs(
  logPre: Float64Array,
  logCur: Float64Array,
  delta0: number,
): { logNew: Float64Array; lambda: number; kl: number } {
  const klPre = klDivergence(logPre, logCur);
  if (klPre <= delta0) return { logNew: logPre, lambda: 0, kl: klPre };
  // w = 0 (pi_cur, KL 0) is always feasible, w = 1 (pi_pre) is not.
  let feasible = 0;
  let infeasible = 1;
  const target = delta0 * (1 - TOL);
  let w = 0.5;
  for (let it = 0; it < MAX_ITERATIONS && infeasible - feasible > 2 ** -51; it++) {
    const m = mixtureMoments(logPre, logCur, w);
    if (!m) {
      infeasible = w;
      w = (feasible + infeasible) / 2;
      continue;
    } // the supports do not meet
    const kl = w * m.mean - m.logZ;
    // Close enough: within TOL of delta_0, or of the rounding error of the difference itself.
    const slack = Math.max(2 * TOL * delta0, 8 * Number.EPSILON * (Math.abs(w * m.mean) + Math.abs(m.logZ)));
    if (kl <= delta0) {
      feasible = w;
      if (kl >= delta0 - slack) break;
    } else infeasible = w;
    const newton = w - (kl - target) / (w * m.variance);
    w = newton > feasible && newton < infeasible ? newton : (feasible + infeasible) / 2;
  }
  // A w > 0 is only ever kept after its mixture was found inside the ball.
  const logNew = feasible === 0 ? logCur : geometricMixture(logPre, logCur, feasible)!;
  return { logNew, lambda: (1 - feasible) / feasible, kl: klDivergence(logNew, logCur) };
}

/**
 * log Z(w) and the mean and variance of d = log pi_pre - log pi_cur under pi_w, over the tokens both models allow;
 * null when there are none.
 */
function mixtureMoments(
  logPre: Float64Array,
  logCur: Float64Array,
  w: number,
): { logZ: number; mean: number; variance: number } | null {
  let max = -Infinity;
  for (let i = 0; i < logPre.length; i++) {
    if (logPre[i] === -Infinity || logCur[i] === -Infinity) continue;
    max = Math.max(max, logCur[i]! + w * (logPre[i]! - logCur[i]!));
  }
  if (max === -Infinity) return null;
  let z = 0;
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < logPre.length; i++) {
    if (logPre[i] === -Infinity || logCur[i] === -Infinity) continue;
    const d = logPre[i]! - logCur[i]!;
    const e = Math.exp(logCur[i]! + w * d - max);
    z += e;
    s1 += e * d;
    s2 += e * d * d;
  }
  const mean = s1 / z;
  return { logZ: max + Math.log(z), mean, variance: Math.max(0, s2 / z - mean * mean) };
}

/**
 * The geometric mixture of docs/design §1.12 in log space: log pi_w = w log pi_pre + (1-w) log pi_cur - logZ; null
 * when the supports do not meet.
 */
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
    if (Number.isNaN(logits[i]) || logits[i] === Infinity)
      throw new InputError(`${name}[${i}] must be a number or -Infinity, got ${logits[i]}`);
  }
  const log = logNormalize(Float64Array.from(logits));
  if (!log)
    throw new InputError(`${name} gives no token any probability: every entry is -Infinity (or the array is empty)`);
  return log;
}

/** x - logsumexp(x), or null when no entry is finite. */
function logNormalize(x: Float64Array): Float64Array | null {
  const max = x.reduce((a, b) => Math.max(a, b), -Infinity);
  if (max === -Infinity) return null;
  const logZ = max + Math.log(x.reduce((sum, v) => sum + Math.exp(v - max), 0));
  return x.map((v) => v - logZ);
}
