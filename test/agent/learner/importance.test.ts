// Truncated importance weights of the sequence-aware estimator, on hand-computed trajectories.
import test from 'ava';
import { InputError } from '../../../node/agent/errors.ts';
import { truncatedIsWeights } from '../../../node/agent/learner/importance.ts';

const close = (t: import('ava').ExecutionContext, got: Float64Array, want: number[]) =>
  t.true(
    got.length === want.length && want.every((w, i) => Math.abs(got[i]! - w) < 1e-15),
    `got [${Array.from(got)}], want [${want}]`,
  );

// Agents 0, 1, 2 take turns; log-ratios logpNew - logpCur are -0.5, 0.2, -0.3, 0.7, -0.1, 0.4 (logpCur = -1).
const TRAJ = {
  agent: [0, 1, 0, 2, 1, 2],
  logpCur: [-1, -1, -1, -1, -1, -1],
  logpNew: [-1.5, -0.8, -1.3, -0.3, -1.1, -0.6],
};

test('with no agent updated yet every weight is 1', (t) => {
  close(t, truncatedIsWeights(TRAJ, new Set(), 5), [1, 1, 1, 1, 1, 1]);
});

test('only updated agents count, and token t counts towards its own weight', (t) => {
  // Updated {0}: S = -0.5, -0.5, -0.8, -0.8, -0.8, -0.8.
  close(t, truncatedIsWeights(TRAJ, new Set([0]), 5), [-0.5, -0.5, -0.8, -0.8, -0.8, -0.8].map(Math.exp));
  // Updated {0, 1}: S = -0.5, -0.3, -0.6, -0.6, -0.7, -0.7.
  close(t, truncatedIsWeights(TRAJ, new Set([0, 1]), 5), [-0.5, -0.3, -0.6, -0.6, -0.7, -0.7].map(Math.exp));
});

test('weights are truncated at 1', (t) => {
  // Updated {2}: S = 0, 0, 0, 0.7, 0.7, 1.1 -> all at most 1.
  close(t, truncatedIsWeights(TRAJ, new Set([2]), 5), [1, 1, 1, 1, 1, 1]);
  // Updated {0, 2}: S = -0.5, -0.5, -0.8, -0.1, -0.1, 0.3.
  close(t, truncatedIsWeights(TRAJ, new Set([0, 2]), 5), [
    Math.exp(-0.5),
    Math.exp(-0.5),
    Math.exp(-0.8),
    Math.exp(-0.1),
    Math.exp(-0.1),
    1,
  ]);
});

test('the running log-ratio sum is clipped, not each term', (t) => {
  const traj = { agent: [0, 1, 0, 1, 0], logpCur: [0, 0, 0, 0, 0], logpNew: [-3, 0, -4, 0, 3] };
  // S = -3, -3, -7, -7, -4: clipped to +-5 -> -3, -3, -5, -5, -4.
  close(t, truncatedIsWeights(traj, new Set([0]), 5), [-3, -3, -5, -5, -4].map(Math.exp));
  // A clip of 0 switches the correction off.
  close(t, truncatedIsWeights(traj, new Set([0]), 0), [1, 1, 1, 1, 1]);
});

test('log-probs of tokens outside the updated agents are never read', (t) => {
  const traj = { agent: [0, 1], logpCur: [-1, NaN], logpNew: [-2, NaN] };
  close(t, truncatedIsWeights(traj, new Set([0]), 5), [Math.exp(-1), Math.exp(-1)]);
});

test('accepts typed arrays and an empty trajectory', (t) => {
  const traj = {
    agent: Int32Array.from(TRAJ.agent),
    logpCur: Float32Array.from(TRAJ.logpCur),
    logpNew: Float32Array.from(TRAJ.logpNew),
  };
  t.true(Math.abs(truncatedIsWeights(traj, new Set([0]), 5)[2]! - Math.exp(-0.8)) < 1e-6);
  t.is(truncatedIsWeights({ agent: [], logpCur: [], logpNew: [] }, new Set([0]), 5).length, 0);
});

test('malformed inputs are refused with one actionable line', (t) => {
  t.throws(() => truncatedIsWeights({ ...TRAJ, logpNew: [0] }, new Set([0]), 5), {
    instanceOf: InputError,
    message: /one agent, logpCur and logpNew per token/,
  });
  t.throws(() => truncatedIsWeights(TRAJ, new Set([0]), -1), { instanceOf: InputError, message: /max_is_ratio_clip/ });
  t.throws(() => truncatedIsWeights(TRAJ, new Set([0]), NaN), { instanceOf: InputError, message: /max_is_ratio_clip/ });
  t.throws(() => truncatedIsWeights({ ...TRAJ, agent: [0, 1, 0.5, 2, 1, 2] }, new Set([0]), 5), {
    instanceOf: InputError,
    message: /agent\[2\]/,
  });
  t.throws(() => truncatedIsWeights({ ...TRAJ, logpNew: [NaN, 0, 0, 0, 0, 0] }, new Set([0]), 5), {
    instanceOf: InputError,
    message: /token 0 of updated agent 0/,
  });
});
