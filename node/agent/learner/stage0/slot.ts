// A slot in plug-and-play (docs/design §1.12): after the swap the newcomer's policy is its projection onto
// the KL ball of radius delta around the incumbent, frozen as it was at the swap. Here: the projected
// log-probs of the slot's tokens, teacher-forced, and the relaxation of the ball through the ordinary
// quantile trust region — each stage it grows as far as the test allows, until the newcomer stands
// inside it at every state the stage visited and the incumbent is let go.
import type { Generator } from '../../model/generate.ts';
import { projectLogprobs } from './projection.ts';
import type { Scorer } from '../../model/score.ts';
import { klQuantileWithin, perStateKl } from '../trust-region.ts';
import type { ParamSource } from '../../model/weights.ts';

export interface Incumbent {
  /** Its checkpoint folder. */
  dir: string;
  /** Its trained tensors at the swap. */
  params: ParamSource;
  /** Its policy, at the team's temperature, to score with and to decode with. */
  scorer: Scorer;
  generator: Generator;
}

export interface Stage0Slot {
  incumbent: Incumbent;
  /** The ball's radius now: delta_0 at the swap, then as relaxed. */
  delta: number;
}

/** Per row, at each of the slot's tokens: the token and both models' log-distributions of the state it was drawn in. */
export interface Stage0States {
  tokens: number[][];
  logPre: Float64Array[][];
  logCur: Float64Array[][];
}

/** Both policies at the states of the tokens at `positions` of each row (position p is drawn after row[..p]). */
export async function stage0States(
  pre: Scorer,
  cur: Scorer,
  rows: readonly number[][],
  positions: readonly number[][],
): Promise<Stage0States> {
  const vocab = pre.ckpt.config.vocabSize;
  const at = positions.map((ps) => ps.map((p) => p - 1));
  const [a, b] = await Promise.all([pre.distributionsAt(rows, at), cur.distributionsAt(rows, at)]);
  const split = (flat: Float32Array, n: number) =>
    Array.from({ length: n }, (_, k) => Float64Array.from(flat.subarray(k * vocab, (k + 1) * vocab)));
  return {
    tokens: positions.map((ps, r) => ps.map((p) => rows[r][p])),
    logPre: positions.map((ps, r) => split(a[r], ps.length)),
    logCur: positions.map((ps, r) => split(b[r], ps.length)),
  };
}

/** log pi_delta(token | state) of every token: the projection with radius delta. */
export function projectedLogprobs(s: Stage0States, delta: number): Float32Array[] {
  return s.tokens.map((ts, r) =>
    Float32Array.from(ts, (tok, k) => projectLogprobs(s.logPre[r][k], s.logCur[r][k], delta).logNew[tok]),
  );
}

export interface Relaxation {
  /** The new radius (the old one when no larger radius passed the test). */
  delta: number;
  /** The largest KL(pi_pre || pi_cur) over the states: past it the ball constrains none of them. */
  deltaMax: number;
  /** Whether the ball no longer binds at any of the states (the incumbent can go). */
  released: boolean;
  klQuantile: number;
  /** log pi of the tokens under the new radius. */
  logpNew: Float32Array[];
  /** Radii tried that failed the test. */
  rejected: number;
}

/** Bisection steps (on log delta) for the largest radius that passes the trust region. */
export const RELAX_STEPS = 10;

/**
 * The largest radius delta' in [delta, deltaMax] whose move from pi_delta passes the ordinary test of
 * docs/design §1.12: the q-quantile over trajectories of the per-state KL proxy on the slot's tokens within
 * targetKl. The whole way (delta' = deltaMax) is tried first; then a bisection on log delta'.
 */
export function relaxBall(
  s: Stage0States,
  logpOld: readonly Float32Array[],
  delta: number,
  cfg: { targetKl: number; quantile: number },
): Relaxation {
  let deltaMax = delta;
  s.logPre.forEach((row, r) =>
    row.forEach((lp, k) => {
      deltaMax = Math.max(deltaMax, projectLogprobs(lp, s.logCur[r][k], Infinity).kl);
    }),
  );
  const test = (radius: number) => {
    const logpNew = projectedLogprobs(s, radius);
    const kls = logpOld.map((old, r) => (old.length ? perStateKl(old, logpNew[r]) : 0));
    return { ...klQuantileWithin(kls, cfg.quantile, cfg.targetKl), logpNew };
  };
  const full = test(deltaMax);
  if (full.within)
    return {
      delta: deltaMax,
      deltaMax,
      released: true,
      klQuantile: full.klQuantile,
      logpNew: full.logpNew,
      rejected: 0,
    };
  let best: { delta: number; klQuantile: number; logpNew: Float32Array[] } = {
    delta,
    klQuantile: 0,
    logpNew: logpOld.map((x) => x.slice()),
  };
  let hi = deltaMax;
  let rejected = 1;
  for (let step = 0; step < RELAX_STEPS; step++) {
    const mid = Math.sqrt(best.delta * hi);
    const t = test(mid);
    if (t.within) best = { delta: mid, klQuantile: t.klQuantile, logpNew: t.logpNew };
    else [hi, rejected] = [mid, rejected + 1];
  }
  return { ...best, deltaMax, released: false, rejected };
}
