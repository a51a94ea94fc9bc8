// GRPO and GAE advantages against the SAT reference's own numpy functions (test/fixtures/sat-reference.json)
// and on hand-computed cases; malformed inputs are refused with InputError.
import test from 'ava';
import fs from 'node:fs';
import {
  clipAdvantages,
  gae,
  gaeSequenceAdvantages,
  groupNormalize,
  grpoAdvantages,
  type GroupBaseline,
} from '../../../node/agent/learner/advantages.ts';
import { InputError } from '../../../node/agent/errors.ts';

interface GrpoCase {
  config: { A_clip: number; group_baseline: GroupBaseline; group_norm: boolean };
  rewards: number[];
  group_index: number[];
  advantages: number[];
}
interface GaeCase {
  gamma: number;
  lam: number;
  A_clip: number;
  rewards: number[][];
  values: number[][];
  group_index: number[] | null;
  sequence_advantages: number[];
  returns: number[][];
}
const REFERENCE = JSON.parse(
  fs.readFileSync(new URL('../../fixtures/sat-reference.json', import.meta.url), 'utf8'),
) as {
  grpo_advantages: GrpoCase[];
  gae_advantages: GaeCase[];
};

function close(
  t: import('ava').ExecutionContext,
  actual: ArrayLike<number>,
  expected: readonly number[],
  tol = 1e-6,
): void {
  t.is(actual.length, expected.length);
  const worst = Math.max(...expected.map((e, i) => Math.abs(actual[i]! - e)));
  t.true(
    worst <= tol,
    `max abs difference ${worst} > ${tol}; got [${Array.from(actual).slice(0, 6)}], want [${expected.slice(0, 6)}]`,
  );
}

for (const [k, c] of REFERENCE.grpo_advantages.entries()) {
  const { group_baseline, group_norm, A_clip } = c.config;
  test(`GRPO matches the reference: case ${k} (baseline ${group_baseline}, norm ${group_norm}, clip ${A_clip})`, (t) => {
    const got = grpoAdvantages(c.rewards, c.group_index, {
      baseline: c.config.group_baseline,
      groupNorm: c.config.group_norm,
      aClip: c.config.A_clip,
    });
    close(t, got, c.advantages);
  });
}

for (const [k, c] of REFERENCE.gae_advantages.entries()) {
  test(`GAE matches the reference: case ${k} (${c.group_index ? 'grouped' : 'no groups'})`, (t) => {
    // The reference's "no group_index" normalises nothing: the same as every sample in a group of its own.
    const groupIndex = c.group_index ?? c.rewards.map((_, i) => i);
    const got = gaeSequenceAdvantages(c.rewards, c.values, groupIndex, { gamma: c.gamma, lam: c.lam, aClip: c.A_clip });
    close(t, got.sequenceAdvantages, c.sequence_advantages);
    got.returns.forEach((r, i) => close(t, r, c.returns[i]!));
  });
}

test('GRPO by hand: mean and max baselines, clip, groups in any label order', (t) => {
  const rewards = [1, 3, 10, 0, 2];
  const groupIndex = [7, 7, 2, 2, 7];
  close(t, grpoAdvantages(rewards, groupIndex, { baseline: 'mean', groupNorm: false, aClip: 4 }), [-1, 1, 4, -4, 0]);
  close(t, grpoAdvantages(rewards, groupIndex, { baseline: 'max', groupNorm: false, aClip: 100 }), [-2, 0, 0, -10, -1]);
  // Normalised: group 7 is [-1, 1, 0] with population std sqrt(2/3).
  const s = Math.sqrt(2 / 3) + 1e-8;
  close(
    t,
    grpoAdvantages(rewards, groupIndex, { baseline: 'max', groupNorm: true, aClip: 100 }),
    [-1 / s, 1 / s, 5 / (5 + 1e-8), -5 / (5 + 1e-8), 0],
    1e-12,
  );
});

test('a group whose samples all score the same gets zero advantage', (t) => {
  close(t, grpoAdvantages([1, 1, 1], [0, 0, 0], { baseline: 'mean', groupNorm: true, aClip: 5 }), [0, 0, 0], 0);
});

test('GAE by hand: two tokens', (t) => {
  // t=1: delta = 1 - 0.5 = 0.5; t=0: delta = 0 + 0.9*0.5 - 0.2 = 0.25, A_0 = 0.25 + 0.9*0.5*0.5 = 0.475.
  const { advantages, returns } = gae([0, 1], [0.2, 0.5], 0.9, 0.5);
  close(t, advantages, [0.475, 0.5], 1e-15);
  close(t, returns, [0.675, 1.0], 1e-15);
});

test('GAE with lam = 1 and gamma = 1 gives reward-to-go minus the value', (t) => {
  const { advantages, returns } = gae([1, 2, 3], [0.5, -1, 2], 1, 1);
  close(t, advantages, [5.5, 6, 1], 1e-15);
  close(t, returns, [6, 5, 3], 1e-15);
});

test('sequences of different lengths each end with V = 0', (t) => {
  const got = gaeSequenceAdvantages([[1], [0, 0, 2]], [[0], [0, 0, 0]], [0, 1], { gamma: 1, lam: 1, aClip: 10 });
  close(t, got.sequenceAdvantages, [1, 6]);
  t.deepEqual(
    got.returns.map((r) => r.length),
    [1, 3],
  );
});

test('groupNormalize leaves groups of one alone; clipAdvantages clips both ways', (t) => {
  close(t, groupNormalize([3, 1, 5], [0, 1, 1]), [3, -2 / (2 + 1e-8), 2 / (2 + 1e-8)], 1e-15);
  close(t, clipAdvantages([-9, 0.5, 9], 2), [-2, 0.5, 2], 0);
});

test('malformed inputs are refused with one actionable line', (t) => {
  const cfg = { baseline: 'mean' as const, groupNorm: true, aClip: 5 };
  t.throws(() => grpoAdvantages([1, 2], [0], cfg), { instanceOf: InputError, message: /one group per sample/ });
  t.throws(() => grpoAdvantages([1, NaN], [0, 0], cfg), { instanceOf: InputError, message: /rewards\[1\]/ });
  t.throws(() => grpoAdvantages([1, 2], [0, 0.5], cfg), { instanceOf: InputError, message: /integer group label/ });
  t.throws(() => grpoAdvantages([1, 2], [0, 0], { ...cfg, aClip: -1 }), { instanceOf: InputError, message: /A_clip/ });
  t.throws(() => grpoAdvantages([1, 2], [0, 0], { ...cfg, baseline: 'median' as GroupBaseline }), {
    instanceOf: InputError,
  });
  t.throws(() => gae([1, 2], [0], 0.9, 0.9), { instanceOf: InputError, message: /one value per token/ });
  t.throws(() => gae([1], [0], 1.5, 0.9), { instanceOf: InputError, message: /gamma/ });
  t.throws(() => gae([1], [0], 0.9, NaN), { instanceOf: InputError, message: /lam/ });
  t.throws(() => gaeSequenceAdvantages([[1]], [], [0], { gamma: 0.9, lam: 0.9, aClip: 5 }), { instanceOf: InputError });
});
