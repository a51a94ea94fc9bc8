// The per-agent quantile KL trust region of docs/design §1.9: after an update, the q-quantile over the
// stage's states of the per-state KL proxy between the old and new policy must stay within delta_i. A
// line search along the update's move grows the step while the test leaves room (grownStep) and halves it,
// with a larger KL penalty beta, while the test fails.
import { InputError } from '../errors.ts';

/** Backtracking multiplies the KL penalty by this factor (docs/design §1.9: `beta *= 1.5`). */
export const BACKTRACK_FACTOR = 1.5;

export interface KlQuantileCheck {
  /** The q-quantile of the per-state KLs. */
  klQuantile: number;
  /** Whether it lies within the trust region (klQuantile <= delta). */
  within: boolean;
}

/**
 * Per-state KL proxy (docs/design §1.9, Trust region): mean_t [(ratio_t - 1) - log ratio_t], ratio_t = exp(logpNew_t
 * - logpOld_t), over one sequence's tokens.
 */
export function perStateKl(logpOld: ArrayLike<number>, logpNew: ArrayLike<number>): number {
  if (logpOld.length !== logpNew.length) {
    throw new InputError(
      `per-state KL needs old and new log-probs of the same tokens: ${logpOld.length} vs ${logpNew.length}`,
    );
  }
  if (logpOld.length === 0)
    throw new InputError('per-state KL of a sequence with no tokens is undefined: leave such sequences out');
  let total = 0;
  for (let t = 0; t < logpOld.length; t++) {
    const logRatio = logpNew[t]! - logpOld[t]!;
    if (!Number.isFinite(logRatio)) {
      throw new InputError(`token ${t} needs finite log-probs, got logpOld ${logpOld[t]} and logpNew ${logpNew[t]}`);
    }
    total += Math.expm1(logRatio) - logRatio; // (ratio - 1) - log ratio, accurate for ratio near 1
  }
  return total / logpOld.length;
}

/**
 * The q-quantile with linear interpolation between order statistics (numpy's default, `method='linear'`):
 * with x sorted and h = (n - 1) q, x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new InputError(`quantile level must lie in [0, 1], got ${q}`);
  if (values.length === 0) throw new InputError('the quantile of no values is undefined: pass at least one');
  const sorted = Float64Array.from(values);
  sorted.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new InputError(`values[${i}] must be a finite number, got ${v}`);
  });
  sorted.sort();
  const h = (sorted.length - 1) * q;
  const below = Math.floor(h);
  if (below === sorted.length - 1) return sorted[below]!;
  return sorted[below]! + (h - below) * (sorted[below + 1]! - sorted[below]!);
}

/**
 * Trust-region test (docs/design §1.9): quantile_q(per-state KL) <= delta (`algorithm.kl_ctrl.quantile`,
 * `target_kl`).
 */
export function klQuantileWithin(perStateKls: ArrayLike<number>, q: number, delta: number): KlQuantileCheck {
  if (!(delta >= 0)) throw new InputError(`the trust-region radius delta must be a number >= 0, got ${delta}`);
  const klQuantile = quantile(perStateKls, q);
  return { klQuantile, within: klQuantile <= delta };
}

/** Backtracking (docs/design §1.9): a rejected update retries with beta <- 1.5 beta. */
export function nextBeta(beta: number): number {
  if (!(beta > 0) || !Number.isFinite(beta)) {
    throw new InputError(
      `backtracking cannot grow the KL penalty beta = ${beta}: set algorithm.kl_ctrl.kl_coef to a positive number`,
    );
  }
  return beta * BACKTRACK_FACTOR;
}

/** A grown step aims at this share of delta_i, so that the KL's growth beyond its quadratic model rarely overshoots. */
export const GROWTH_AIM = 0.8;
/** One growth multiplies the step by at most this factor. */
export const MAX_GROWTH = 4;
/** A growth smaller than this factor is not worth another scoring pass. */
const MIN_GROWTH = 1.25;

/**
 * The next step of the growing line search (docs/design §1.9) from the largest step that passed, or undefined
 * when it stops. Near theta_0 the KL quantile grows as the square of the step, so the step that reaches
 * GROWTH_AIM of delta is step sqrt(GROWTH_AIM delta / klQuantile), taken at most MAX_GROWTH times further and,
 * once a larger step `failed`, no further than halfway to it in log scale. A move that changed no log-prob
 * (klQuantile 0) has nothing to grow.
 */
export function grownStep(step: number, klQuantile: number, delta: number, failed = Infinity): number | undefined {
  if (!(klQuantile > 0)) return undefined;
  const factor = Math.min(MAX_GROWTH, Math.sqrt((GROWTH_AIM * delta) / klQuantile), Math.sqrt(failed / step));
  return factor >= MIN_GROWTH ? step * factor : undefined;
}
