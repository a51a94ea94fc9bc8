// Stage-0's projection (docs/design §1.12) as a graph over many states at once: the same solution as
// projection.ts — the smallest lambda >= 0 with KL(pi_new || pi_cur) <= delta_0 for
// pi_new ∝ pi_pre^{1/(1+lambda)} pi_cur^{lambda/(1+lambda)} — found by the same safeguarded Newton steps on
// w = 1/(1+lambda), each state's row of the vocabulary in one pass a step, inside an ONNX Loop that stops
// once every row has landed. Float32: KL lands within TOL (relative) below delta_0, where projection.ts's
// float64 lands within 1e-11; over a real vocabulary one pass over 8 states takes a few ms.
import type { Value } from '../../../gpu/graph.ts';
import * as op from '../../../gpu/ops.ts';

/** KL(pi_new || pi_cur) stops in [delta_0 (1 - 2 TOL), delta_0]. */
const TOL = 1e-4;
/** Newton steps at most (bisection where Newton would leave the bracket; a few suffice). */
const MAX_STEPS = 60;
/** Log-probs below this are the zeros of masked tokens (-Infinity). */
const FLOOR = -1e30;

/**
 * The projection of each row of `logPre` and `logCur` [N, V] (normalized log-probs) onto the ball of radius
 * `delta` (a scalar): log pi_new [N, V], its KL from pi_cur [N] and KL(pi_pre || pi_cur) [N] (the radius past
 * which the ball binds nowhere).
 */
export function projectRows(logPre: Value, logCur: Value, delta: Value): { logNew: Value; kl: Value; klPre: Value } {
  const g = logPre.graph;
  const [n] = logPre.shape;
  const scalar = (x: number) => g.scalar('float32', x);
  const both = op.and(op.greater(logPre, scalar(FLOOR)), op.greater(logCur, scalar(FLOOR)));
  const d = op.where(both, op.sub(logPre, logCur), scalar(0));
  const klPre = klOf(logPre, logCur);
  // w = 1 (pi_pre) where it is already inside the ball; else the bracket [0 (pi_cur, KL 0), 1] from its middle.
  const inside = op.lessOrEqual(klPre, delta);
  const start = (x: number, y: number) => op.where(inside, scalar(x), op.expand(scalar(y), [n]));
  const carried = [start(1, 0.5), start(1, 0), start(1, 1), inside];

  const body = g.subgraph('newton');
  body.input('newton.iter', 'int64', []);
  body.input('newton.cond', 'bool', []);
  const [w, feasible, infeasible, done] = carried.map((c, i) => body.input(`newton.${i}`, c.dtype, c.shape));
  const [bd, bcur, bboth, bdelta] = [d, logCur, both, delta].map((v) => body.outer(v));
  const one = (x: number) => body.scalar('float32', x);
  const wCol = op.unsqueeze(w, [1]);
  // log pi_cur + w d over the tokens both models allow: log Z(w), and d's mean and variance under pi_w.
  const x = op.where(bboth, op.add(bcur, op.mul(wCol, bd)), one(-Infinity));
  const max = op.reduceMax(x, [1], true);
  const e = op.exp(op.sub(x, max));
  const ed = op.mul(e, bd);
  const z = rowSum(e);
  const mean = op.div(rowSum(ed), z);
  const variance = op.max(op.sub(op.div(rowSum(op.mul(ed, bd)), z), op.mul(mean, mean)), body.scalar('float64', 0));
  const logZ = op.add(op.cast(op.squeeze(max, [1]), 'float64'), op.log(z));
  const kl = op.cast(op.sub(op.mul(op.cast(w, 'float64'), mean), logZ), 'float32'); // NaN where the supports do not meet
  // A zero radius holds pi_cur alone: rounding may put a tiny w's KL at 0, but not inside it.
  const fits = op.and(op.lessOrEqual(kl, bdelta), op.greater(bdelta, one(0)));
  const nextFeasible = op.where(fits, w, feasible);
  const nextInfeasible = op.where(fits, infeasible, w);
  const target = op.mul(bdelta, one(1 - TOL));
  const newton = op.sub(w, op.div(op.sub(kl, target), op.mul(w, op.cast(variance, 'float32'))));
  const inBracket = op.and(op.greater(newton, nextFeasible), op.less(newton, nextInfeasible));
  const nextW = op.where(inBracket, newton, op.mul(op.add(nextFeasible, nextInfeasible), one(0.5)));
  const landed = op.and(fits, op.greaterOrEqual(kl, op.mul(bdelta, one(1 - 2 * TOL))));
  const narrow = op.lessOrEqual(op.sub(nextInfeasible, nextFeasible), one(2 ** -23));
  const nextDone = op.or(done, op.or(landed, narrow));
  const keep = (old: Value, next: Value) => op.where(done, old, next);
  body.output(op.not(allTrue(nextDone)), 'newton.cond_out');
  [keep(w, nextW), keep(feasible, nextFeasible), keep(infeasible, nextInfeasible), nextDone].forEach((v, i) =>
    body.output(v, `newton.${i}_out`),
  );
  const [, solved] = op.loop(g.scalar('int64', MAX_STEPS), op.not(allTrue(carried[3])), carried, body, []);

  // log pi_w of the last w found inside the ball: pi_cur itself at w = 0, pi_pre at w = 1.
  const wSolved = op.unsqueeze(solved, [1]);
  const mixed = op.where(both, op.add(logCur, op.mul(wSolved, d)), scalar(-Infinity));
  const top = op.reduceMax(mixed, [1], true);
  const logSum = op.cast(op.log(rowSum(op.exp(op.sub(mixed, top)))), 'float32');
  const normalized = op.sub(op.sub(mixed, top), op.unsqueeze(logSum, [1]));
  const logNew = op.where(
    op.lessOrEqual(wSolved, scalar(0)),
    logCur,
    op.where(op.greaterOrEqual(wSolved, scalar(1)), logPre, normalized),
  );
  return { logNew, kl: klOf(logNew, logCur), klPre };
}

/** KL(p || q) per row of log-probs, 0 log 0 = 0. */
function klOf(logP: Value, logQ: Value): Value {
  const g = logP.graph;
  const live = op.greater(logP, g.scalar('float32', FLOOR));
  const terms = op.where(live, op.mul(op.exp(logP), op.sub(logP, logQ)), g.scalar('float32', 0));
  return op.cast(rowSum(terms), 'float32');
}

/**
 * Row sums [N] in float64 of float32 x [N, V]: blocks of up to 256 summed in float32 (a short sum loses little),
 * then the blocks in float64. A float32 sum over a real vocabulary would be off by more than a ball's radius.
 */
function rowSum(x: Value): Value {
  const [n, v] = x.shape;
  let block = 256;
  while (v % block) block--;
  const blocks = op.reduceSum(op.reshape(x, [n, v / block, block]), [2]);
  return op.reduceSum(op.cast(blocks, 'float64'), [1]);
}

/** Whether every entry of a bool vector holds. */
const allTrue = (x: Value): Value =>
  op.greaterOrEqual(op.reduceMin(op.cast(x, 'float32'), [0]), x.graph.scalar('float32', 1));
