// Stage-0 projection: matches the SAT reference's Stage0Aligner cases, keeps KL(pi_new || pi_cur) within
// delta_0 on random states, leaves pi_pre alone inside the ball, tends to pi_cur as delta_0 -> 0, and
// refuses malformed logits.
import test from 'ava';
import fs from 'node:fs';
import { InputError } from '../../../../node/agent/errors.ts';
import { rng } from '../../../../node/agent/model/random.ts';
import { stage0Project } from '../../../../node/agent/learner/stage0/projection.ts';

interface Stage0Case {
  logits_pre: number[];
  logits_cur: number[];
  delta0: number;
  pi_new: number[];
  kl_new_cur: number;
  kl_pre_cur: number;
}
const CASES = (
  JSON.parse(fs.readFileSync(new URL('../../../fixtures/sat-reference.json', import.meta.url), 'utf8')) as {
    stage0_projection: Stage0Case[];
  }
).stage0_projection;

/** Softmax in float64, written independently of the module under test. */
function softmax(logits: readonly number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}
const kl = (p: ArrayLike<number>, q: readonly number[]) =>
  q.reduce((s, qi, i) => (p[i]! > 0 ? s + p[i]! * Math.log(p[i]! / qi) : s), 0);
const maxAbsDiff = (a: ArrayLike<number>, b: readonly number[]) => Math.max(...b.map((v, i) => Math.abs(a[i]! - v)));
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);

for (const [k, c] of CASES.entries()) {
  test(`matches the reference: case ${k} (V=${c.logits_pre.length}, delta0=${c.delta0})`, (t) => {
    const got = stage0Project(c.logits_pre, c.logits_cur, c.delta0);
    const diff = maxAbsDiff(got.piNew, c.pi_new);
    t.true(diff <= 1e-6, `pi_new differs by ${diff}`);
    t.true(Math.abs(got.kl - c.kl_new_cur) <= 1e-6, `KL ${got.kl} vs reference ${c.kl_new_cur}`);
    t.true(kl(got.piNew, softmax(c.logits_cur)) <= c.delta0 + 1e-6);
    if (c.kl_pre_cur <= c.delta0) t.is(got.lambda, 0);
    else t.true(got.lambda > 0 && Number.isFinite(got.lambda));
  });
}

test('the bound holds, tightly, on random states', (t) => {
  const u = rng(20240607);
  for (let trial = 0; trial < 300; trial++) {
    const vocab = 2 + Math.floor(u() * 300);
    const scale = 0.1 + u() * 12;
    const pre = Array.from({ length: vocab }, () => (u() - 0.5) * scale);
    const cur = Array.from({ length: vocab }, () => (u() - 0.5) * scale);
    const delta0 = 10 ** (-5 + 5 * u());
    const got = stage0Project(pre, cur, delta0);
    const q = softmax(cur);
    const klNew = kl(got.piNew, q);
    t.true(klNew <= delta0 + 1e-6, `trial ${trial}: KL ${klNew} > delta0 ${delta0}`);
    t.true(Math.abs(sum(got.piNew) - 1) < 1e-12 && Array.from(got.piNew).every((p) => p >= 0));
    t.true(got.lambda >= 0);
    // Outside the ball the projection lands on its boundary.
    if (kl(softmax(pre), q) > delta0)
      t.true(Math.abs(klNew - delta0) <= 1e-9 * Math.max(1, delta0), `trial ${trial}: KL ${klNew} vs ${delta0}`);
  }
});

test('inside the ball pi_pre is kept as it is and lambda is 0', (t) => {
  const pre = [0.1, 0.2, -0.1, 0.05];
  const cur = [0.12, 0.18, -0.1, 0.0];
  const got = stage0Project(pre, cur, 0.1);
  t.is(got.lambda, 0);
  t.true(maxAbsDiff(got.piNew, softmax(pre)) < 1e-15);
  t.true(Math.abs(got.kl - kl(softmax(pre), softmax(cur))) < 1e-15);
});

test('pi_new tends to pi_cur as delta_0 tends to 0', (t) => {
  const u = rng(7);
  const pre = Array.from({ length: 40 }, () => (u() - 0.5) * 8);
  const cur = Array.from({ length: 40 }, () => (u() - 0.5) * 8);
  const q = softmax(cur);
  const gaps = [1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-8].map((d) => maxAbsDiff(stage0Project(pre, cur, d).piNew, q));
  for (let i = 1; i < gaps.length; i++) t.true(gaps[i]! < gaps[i - 1]!, `gaps do not shrink: ${gaps}`);
  t.true(gaps.at(-1)! < 1e-4);
  // delta_0 = 0 leaves pi_cur up to rounding (KL within 1e-15 of 0).
  const zero = stage0Project(pre, cur, 0);
  t.true(maxAbsDiff(zero.piNew, q) < 1e-6);
  t.true(Math.abs(zero.kl) < 1e-15);
});

test('masked tokens (-Infinity logits) stay impossible; disjoint supports fall back to pi_cur', (t) => {
  // For 0 < lambda < inf only token 1 keeps mass: pi_new = [0, 1, 0] with KL log 2 when the ball allows it...
  const wide = stage0Project([3, 0, -Infinity], [-Infinity, 0, 0], 1);
  t.deepEqual(Array.from(wide.piNew), [0, 1, 0]);
  t.true(Math.abs(wide.kl - Math.LN2) < 1e-15 && wide.lambda > 0);
  // ...and pi_cur itself (lambda = Infinity) when it does not.
  const narrow = stage0Project([3, 0, -Infinity], [-Infinity, 0, 0], 0.5);
  t.deepEqual(Array.from(narrow.piNew), [0, 0.5, 0.5]);
  t.is(narrow.lambda, Infinity);
  // pi_pre and pi_cur share no token: only pi_cur itself lies in the ball.
  const apart = stage0Project([0, -Infinity], [-Infinity, 0], 0.5);
  t.deepEqual(Array.from(apart.piNew), [0, 1]);
  t.is(apart.lambda, Infinity);
  t.is(apart.kl, 0);
});

test('accepts Float32Array logits, as a model returns them', (t) => {
  const c = CASES[0]!;
  const got = stage0Project(Float32Array.from(c.logits_pre), Float32Array.from(c.logits_cur), c.delta0);
  t.true(maxAbsDiff(got.piNew, c.pi_new) < 1e-5);
});

test('malformed inputs are refused with one actionable line', (t) => {
  t.throws(() => stage0Project([0, 1], [0, 1, 2], 0.1), { instanceOf: InputError, message: /one vocabulary/ });
  t.throws(() => stage0Project([0, NaN], [0, 1], 0.1), { instanceOf: InputError, message: /logitsPre\[1\]/ });
  t.throws(() => stage0Project([0, 1], [Infinity, 1], 0.1), { instanceOf: InputError, message: /logitsCur\[0\]/ });
  t.throws(() => stage0Project([-Infinity, -Infinity], [0, 1], 0.1), {
    instanceOf: InputError,
    message: /every entry is -Infinity/,
  });
  t.throws(() => stage0Project([], [], 0.1), { instanceOf: InputError });
  t.throws(() => stage0Project([0, 1], [0, 1], -0.1), { instanceOf: InputError, message: /delta_0/ });
  t.throws(() => stage0Project([0, 1], [0, 1], NaN), { instanceOf: InputError, message: /delta_0/ });
});
