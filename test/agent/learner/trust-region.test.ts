// Quantile KL trust region: the per-state KL proxy, numpy-compatible quantiles (values computed with
// numpy 2.4 `np.quantile`), the within-delta test and the backtracking step.
import test from 'ava';
import { InputError } from '../../../node/agent/errors.ts';
import {
  GROWTH_AIM,
  MAX_GROWTH,
  grownStep,
  klQuantileWithin,
  nextBeta,
  perStateKl,
  quantile,
} from '../../../node/agent/learner/trust-region.ts';

const near = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol;

test('perStateKl is the token mean of (ratio - 1) - log ratio', (t) => {
  // numpy: r = exp(new - old); mean((r - 1) - log r) = 0.043054280791172427.
  t.true(near(perStateKl([-1.2, -0.3, -2.5], [-1.0, -0.35, -3.0]), 0.043054280791172427, 1e-15));
  // One token, ratio e: (e - 1) - 1.
  t.true(near(perStateKl([0], [1]), Math.E - 2, 1e-15));
});

test('perStateKl is 0 for an unchanged policy, positive otherwise, and accurate for tiny changes', (t) => {
  t.is(perStateKl([-1, -2, -3], [-1, -2, -3]), 0);
  t.true(perStateKl([-1], [-1.01]) > 0 && perStateKl([-1], [-0.99]) > 0);
  // For log-ratio d, (e^d - 1) - d = d^2/2 + d^3/6 + ...: no cancellation at d = 1e-6 (exp(d) - 1 - d would be off by
  // ~1e-16).
  t.true(near(perStateKl([0], [1e-6]), 0.5e-12 + 1e-18 / 6, 1e-20));
});

test('quantile matches numpy linear interpolation', (t) => {
  const v = [0.031, 0.002, 0.5, 0.017, 0.0, 0.12, 0.044];
  const numpy: [number, number][] = [
    [0, 0.0],
    [0.1, 0.0012000000000000001],
    [0.5, 0.031],
    [0.9, 0.27200000000000013],
    [0.95, 0.38599999999999973],
    [0.99, 0.4771999999999998],
    [1, 0.5],
  ];
  for (const [q, want] of numpy) t.true(near(quantile(v, q), want), `q=${q}: ${quantile(v, q)} vs numpy ${want}`);
  t.true(near(quantile([3, -1], 0.25), 0.0));
  t.true(near(quantile([3, -1], 0.99), 2.96));
  t.is(quantile([0.7], 0.99), 0.7);
  t.is(quantile(Float32Array.of(2, 1), 0.5), 1.5);
});

test('quantile does not reorder its input', (t) => {
  const v = [3, 1, 2];
  quantile(v, 0.5);
  t.deepEqual(v, [3, 1, 2]);
});

test('klQuantileWithin compares the quantile with delta, boundary included', (t) => {
  const kls = [0.01, 0.02, 0.03, 0.04, 0.05];
  t.deepEqual(klQuantileWithin(kls, 0.5, 0.03), { klQuantile: 0.03, within: true });
  t.deepEqual(klQuantileWithin(kls, 0.5, 0.029), { klQuantile: 0.03, within: false });
  const q99 = klQuantileWithin(kls, 0.99, 0.05);
  t.true(near(q99.klQuantile, 0.0496) && q99.within);
});

test('grownStep aims the quadratic model of the KL at a share of delta, bounded, and stops near the bound', (t) => {
  const close = (a: number | undefined, b: number) =>
    t.true(a !== undefined && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(grownStep(1, 0.002, 0.01), Math.sqrt((GROWTH_AIM * 0.01) / 0.002));
  close(grownStep(2, 0.002, 0.01), 2 * Math.sqrt((GROWTH_AIM * 0.01) / 0.002));
  close(grownStep(1, 1e-9, 0.01), MAX_GROWTH);
  // Once a larger step failed, no further than halfway to it in log scale.
  close(grownStep(1, 0.002, 0.01, 1.96), 1.4);
  t.is(grownStep(1, 0.0075, 0.01), undefined, 'a step whose KL is near the bound is not grown');
  t.is(grownStep(1, 0.001, 0.01, 1.2), undefined, 'nor one just below a step that failed');
  t.is(grownStep(1, 0, 0.01), undefined, 'a move that changed nothing has nothing to grow');
});

test('nextBeta grows beta by 1.5 each backtrack', (t) => {
  t.is(nextBeta(0.001), 0.0015);
  t.true(near(nextBeta(nextBeta(0.04)), 0.09, 1e-15));
});

test('malformed inputs are refused with one actionable line', (t) => {
  t.throws(() => perStateKl([0, 1], [0]), { instanceOf: InputError, message: /same tokens/ });
  t.throws(() => perStateKl([], []), { instanceOf: InputError, message: /no tokens/ });
  t.throws(() => perStateKl([0, NaN], [0, 0]), { instanceOf: InputError, message: /token 1/ });
  t.throws(() => quantile([], 0.5), { instanceOf: InputError, message: /at least one/ });
  t.throws(() => quantile([1, 2], 1.5), { instanceOf: InputError, message: /\[0, 1\]/ });
  t.throws(() => quantile([1, NaN], 0.5), { instanceOf: InputError, message: /values\[1\]/ });
  t.throws(() => klQuantileWithin([0.1], 0.9, -1), { instanceOf: InputError, message: /delta/ });
  t.throws(() => nextBeta(0), { instanceOf: InputError, message: /kl_coef/ });
  t.throws(() => nextBeta(NaN), { instanceOf: InputError });
});
