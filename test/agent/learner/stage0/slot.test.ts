// A slot in Stage-0: teacher-forced projected log-probs are the ones the projection sampled with, and
// relaxing the ball keeps to the quantile trust region, growing it to the newcomer once that fits.
import test from 'ava';
import { loadCheckpoint } from '../../../../node/agent/model/checkpoint.ts';
import { Generator } from '../../../../node/agent/model/generate.ts';
import { rng } from '../../../../node/agent/model/random.ts';
import { Scorer } from '../../../../node/agent/model/score.ts';
import { ProjectedGenerator } from '../../../../node/agent/learner/stage0/generate.ts';
import {
  type Stage0States,
  projectedLogprobs,
  relaxBall,
  stage0States,
} from '../../../../node/agent/learner/stage0/slot.ts';
import { quantile, perStateKl } from '../../../../node/agent/learner/trust-region.ts';
import { Stage0Projector } from '../../../../node/agent/learner/stage0/projector.ts';

const models = new URL('../../../../models/demo/', import.meta.url).pathname;
const [weak, strong] = [loadCheckpoint(`${models}tiny-weak`), loadCheckpoint(`${models}tiny-strong`)];
const projector = new Stage0Projector({ threads: 1 });
test.after.always(() => projector.release());

test('teacher-forced projected log-probs at the policy temperature equal the sampling log-probs', async (t) => {
  const temperature = 0.7;
  const delta = 0.2;
  const [pre, cur] = [new Generator(strong, { threads: 1 }), new Generator(weak, { threads: 1 })];
  const [preScorer, curScorer] = [
    new Scorer(strong, { threads: 1 }, undefined, temperature),
    new Scorer(weak, { threads: 1 }, undefined, temperature),
  ];
  const prompts = [[86, 119, 100, 117], [52, 53, 49, 35, 40], [60]];
  const out = await new ProjectedGenerator(pre, cur, projector, delta).generate(prompts, {
    maxNewTokens: 10,
    sampling: { temperature, topK: 0, topP: 1 },
    seed: 9,
  });
  const rows = prompts.map((p, i) => [...p, ...out[i].tokens]);
  const positions = prompts.map((p, i) => out[i].tokens.map((_, k) => p.length + k));
  const states = await stage0States(preScorer, curScorer, rows, positions);
  const teacher = await projectedLogprobs(states, projector, delta);
  out.forEach((g, i) =>
    g.logprobs.forEach((lp, k) =>
      t.true(Math.abs(lp - teacher[i][k]) < 1e-4, `row ${i} token ${k}: ${lp} vs ${teacher[i][k]}`),
    ),
  );
  for (const x of [pre, cur, preScorer, curScorer]) await x.release();
});

/** Random states over a small vocabulary, the newcomer far from the incumbent at some of them. */
function randomStates(rows: number, tokens: number, seed: number): Stage0States {
  const u = rng(seed);
  const vocab = 12;
  const logSoftmax = (x: number[]) => {
    const m = Math.max(...x);
    const z = Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0)) + m;
    return x.map((v) => v - z);
  };
  const states = () =>
    Float32Array.from(
      Array.from({ length: tokens }, () => logSoftmax(Array.from({ length: vocab }, () => (u() - 0.5) * 8))).flat(),
    );
  const s: Stage0States = { tokens: [], logPre: [], logCur: [], vocab };
  for (let r = 0; r < rows; r++) {
    s.tokens.push(Array.from({ length: tokens }, () => Math.floor(u() * vocab)));
    s.logPre.push(states());
    s.logCur.push(states());
  }
  return s;
}

test('relaxing the ball: the largest radius within the trust region, released once the newcomer fits everywhere', async (t) => {
  const s = randomStates(40, 6, 3);
  const delta = 0.05;
  const cfg = (targetKl: number) => ({ targetKl, quantile: 0.9 });
  const old = await projectedLogprobs(s, projector, delta);
  const klQuantileAt = (logpNew: Float32Array[]) =>
    quantile(
      old.map((o, r) => perStateKl(o, logpNew[r])),
      0.9,
    );

  const tight = await relaxBall(s, projector, old, delta, cfg(0.02));
  t.false(tight.released);
  t.true(tight.delta > delta && tight.delta < tight.deltaMax, `radius ${tight.delta} of ${tight.deltaMax}`);
  t.true(tight.klQuantile <= 0.02);
  t.true(Math.abs(klQuantileAt(tight.logpNew) - tight.klQuantile) < 1e-9);
  t.deepEqual(tight.logpNew, await projectedLogprobs(s, projector, tight.delta));
  // A somewhat larger ball moves the policy too far (the bisection stops within a few percent).
  t.true(klQuantileAt(await projectedLogprobs(s, projector, tight.delta * 1.5)) > 0.02);
  // A looser region allows a larger ball.
  const loose = await relaxBall(s, projector, old, delta, cfg(0.2));
  t.true(loose.delta > tight.delta);

  const all = await relaxBall(s, projector, old, delta, cfg(100));
  t.true(all.released);
  t.is(all.delta, all.deltaMax);
  t.is(all.rejected, 0);
  // The released policy is the newcomer's own.
  all.logpNew.forEach((lps, r) =>
    lps.forEach((lp, k) => t.true(Math.abs(lp - s.logPre[r][k * s.vocab + s.tokens[r][k]]) < 1e-6)),
  );
});
