// Stage-0's projection in a graph (projector.ts) against its float64 definition (projection.ts): the SAT
// reference's cases, and states over a real vocabulary (151,936 ids) with masked tokens, a newcomer already
// inside the ball, disjoint supports and a zero radius.
import test from 'ava';
import fs from 'node:fs';
import { rng } from '../../../../node/agent/model/random.ts';
import { stage0Project } from '../../../../node/agent/learner/stage0/projection.ts';
import { Stage0Projector } from '../../../../node/agent/learner/stage0/projector.ts';

const projector = new Stage0Projector({ threads: 2 });
test.after.always(() => projector.release());

const logSoftmax = (x: ArrayLike<number>): Float32Array => {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
  let z = 0;
  for (let i = 0; i < x.length; i++) z += Math.exp(x[i] - m);
  return Float32Array.from(x, (v) => v - m - Math.log(z));
};

/** The projector's answers for states (logits of pre and cur) at tokens, next to projection.ts's. */
async function bothWays(states: { pre: Float32Array; cur: Float32Array; token: number }[], delta: number) {
  const vocab = states[0].pre.length;
  const flat = (pick: (s: (typeof states)[number]) => Float32Array) => {
    const all = new Float32Array(states.length * vocab);
    states.forEach((s, i) => all.set(logSoftmax(pick(s)), i * vocab));
    return all;
  };
  const got = await projector.atTokens(
    flat((s) => s.pre),
    flat((s) => s.cur),
    states.map((s) => s.token),
    vocab,
    delta,
  );
  const want = states.map((s) => stage0Project(s.pre, s.cur, delta));
  return { got, want };
}

const CASES = (
  JSON.parse(fs.readFileSync(new URL('../../../fixtures/sat-reference.json', import.meta.url), 'utf8')) as {
    stage0_projection: { logits_pre: number[]; logits_cur: number[]; delta0: number; pi_new: number[] }[];
  }
).stage0_projection;

test("the SAT reference's cases: the projection's log-probs at every token", async (t) => {
  for (const [k, c] of CASES.entries()) {
    const vocab = c.logits_pre.length;
    const states = Array.from({ length: vocab }, (_, token) => ({
      pre: Float32Array.from(c.logits_pre),
      cur: Float32Array.from(c.logits_cur),
      token,
    }));
    const { got } = await bothWays(states, c.delta0);
    got.logp.forEach((lp, token) =>
      t.true(Math.abs(Math.exp(lp) - c.pi_new[token]) < 1e-5, `case ${k} token ${token}: ${Math.exp(lp)}`),
    );
  }
});

test('over a real vocabulary it agrees with the float64 definition within 1e-4 and keeps inside the ball', async (t) => {
  const vocab = 151_936;
  const u = rng(11);
  const gauss = () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
  const states = [1, 3, 8, 0.01, 2, 5, 1, 12].map((scale, i) => {
    const pre = Float32Array.from({ length: vocab }, () => scale * gauss());
    const cur = Float32Array.from(pre, (x) => x + 0.5 * scale * gauss());
    if (i === 6) for (let k = 0; k < 100; k++) [pre[k], cur[k + 50]] = [-Infinity, -Infinity];
    let best = 0;
    for (let k = 1; k < vocab; k++) if (pre[k] > pre[best]) best = k;
    return { pre, cur, token: i % 2 ? best : Math.floor(u() * vocab) };
  });
  const delta = 0.01;
  const { got, want } = await bothWays(states, delta);
  want.forEach((w, i) => {
    const lp = Math.log(w.piNew[states[i].token]);
    t.true(Math.abs(got.logp[i] - lp) < 1e-4, `state ${i}: ${got.logp[i]} vs ${lp}`);
    t.true(got.kl[i] <= delta * (1 + 1e-5), `state ${i}: KL ${got.kl[i]}`);
    t.true(Math.abs(got.kl[i] - w.kl) < 1e-3 * delta, `state ${i}: KL ${got.kl[i]} vs ${w.kl}`);
  });
  t.is(want[3].lambda, 0, 'the near-uniform pair starts inside the ball');
  t.true(Math.abs(got.klPre[3] - want[3].kl) < 1e-7);
});

test('a zero radius keeps the incumbent; disjoint supports fall back to it; masked tokens stay impossible', async (t) => {
  const vocab = 1000;
  const u = rng(5);
  const logits = () => Float32Array.from({ length: vocab }, () => (u() - 0.5) * 10);
  const [pre, cur] = [logits(), logits()];
  const zero = await bothWays([{ pre, cur, token: 7 }], 0);
  t.true(Math.abs(zero.got.logp[0] - logSoftmax(cur)[7]) < 1e-6);
  t.is(zero.got.kl[0], 0);
  const apart = await bothWays(
    [{ pre: Float32Array.of(0, -Infinity, 1), cur: Float32Array.of(-Infinity, 0, -Infinity), token: 1 }],
    0.5,
  );
  t.is(apart.got.logp[0], 0, 'all of the mass on the incumbent token');
  const masked = await bothWays(
    [{ pre: Float32Array.of(3, 0, -Infinity), cur: Float32Array.of(-Infinity, 0, 0), token: 2 }],
    1,
  );
  t.is(masked.got.logp[0], -Infinity);
});
