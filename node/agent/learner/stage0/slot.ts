// A slot in plug-and-play (docs/design §1.12): after the swap the newcomer's policy is its projection onto
// the KL ball of radius delta around the incumbent, frozen as it was at the swap. Here: the projected
// log-probs of the slot's tokens, teacher-forced, and the relaxation of the ball through the ordinary
// quantile trust region — each stage it grows as far as the test allows, until the newcomer stands
// inside it at every state the stage visited and the incumbent is let go.
import type { Generator } from '../../model/generate.ts';
import type { Stage0Projector } from './projector.ts';
import { concat } from '../../../util/arrays.ts';
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
  /** Projects the newcomer onto the ball around it, over many states at once. */
  projector: Stage0Projector;
}

export interface Stage0Slot {
  incumbent: Incumbent;
  /** The ball's radius now: delta_0 at the swap, then as relaxed. */
  delta: number;
}

/**
 * Per row, at each of the slot's tokens: the token and both models' log-distributions of the state it was drawn in,
 * flat [tokens, vocab].
 */
export interface Stage0States {
  tokens: number[][];
  logPre: Float32Array[];
  logCur: Float32Array[];
  vocab: number;
}

/** Both policies at the states of the tokens at `positions` of each row (position p is drawn after row[..p]). */
export async function stage0States(
  pre: Scorer,
  cur: Scorer,
  rows: readonly number[][],
  positions: readonly number[][],
): Promise<Stage0States> {
  const at = positions.map((ps) => ps.map((p) => p - 1));
  const [logPre, logCur] = await Promise.all([pre.distributionsAt(rows, at), cur.distributionsAt(rows, at)]);
  return {
    tokens: positions.map((ps, r) => ps.map((p) => rows[r][p])),
    logPre,
    logCur,
    vocab: pre.ckpt.config.vocabSize,
  };
}

/**
 * Every state's projection under a radius: log pi_delta of its token and KL(pi_pre || pi_cur), per row. The states
 * are laid out for the graph once, for every radius tried.
 */
function projecting(
  s: Stage0States,
  projector: Stage0Projector,
): (delta: number) => Promise<{ logp: Float32Array[]; klPre: Float32Array }> {
  const [logPre, logCur, tokens] = [concat(s.logPre), concat(s.logCur), s.tokens.flat()];
  return async (delta) => {
    const r = await projector.atTokens(logPre, logCur, tokens, s.vocab, delta);
    let at = 0;
    return { logp: s.tokens.map((ts) => r.logp.slice(at, (at += ts.length))), klPre: r.klPre };
  };
}

/** log pi_delta(token | state) of every token: the projection with radius delta. */
export async function projectedLogprobs(
  s: Stage0States,
  projector: Stage0Projector,
  delta: number,
): Promise<Float32Array[]> {
  return (await projecting(s, projector)(delta)).logp;
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
export async function relaxBall(
  s: Stage0States,
  projector: Stage0Projector,
  logpOld: readonly Float32Array[],
  delta: number,
  cfg: { targetKl: number; quantile: number },
): Promise<Relaxation> {
  const project = projecting(s, projector);
  const test = async (radius: number) => {
    const { logp: logpNew, klPre } = await project(radius);
    const kls = logpOld.map((old, r) => (old.length ? perStateKl(old, logpNew[r]) : 0));
    return { ...klQuantileWithin(kls, cfg.quantile, cfg.targetKl), logpNew, klPre };
  };
  // The whole way first: past the largest KL(pi_pre || pi_cur) the ball binds at no state.
  const unbound = await test(Infinity);
  const deltaMax = unbound.klPre.reduce((m, x) => Math.max(m, x), delta);
  if (unbound.within)
    return {
      delta: deltaMax,
      deltaMax,
      released: true,
      klQuantile: unbound.klQuantile,
      logpNew: unbound.logpNew,
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
    const t = await test(mid);
    if (t.within) best = { delta: mid, klQuantile: t.klQuantile, logpNew: t.logpNew };
    else [hi, rejected] = [mid, rejected + 1];
  }
  return { ...best, deltaMax, released: false, rejected };
}
