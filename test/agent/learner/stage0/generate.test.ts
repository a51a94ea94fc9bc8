// Stage-0 decoding on the embedded agents (newcomer: tiny-strong, incumbent: tiny-weak): every decoded
// state lies inside the KL ball, delta_0 -> 0 decodes as the incumbent and a huge delta_0 as the newcomer.
import test from 'ava';
import { loadCheckpoint } from '../../../../node/agent/model/checkpoint.ts';
import { Generator } from '../../../../node/agent/model/generate.ts';
import { Scorer } from '../../../../node/agent/model/score.ts';
import { ProjectedGenerator } from '../../../../node/agent/learner/stage0/generate.ts';
import { stage0Project } from '../../../../node/agent/learner/stage0/projection.ts';
import { Stage0Projector } from '../../../../node/agent/learner/stage0/projector.ts';

const models = new URL('../../../../models/demo/', import.meta.url).pathname;
const weak = loadCheckpoint(`${models}tiny-weak`);
const strong = loadCheckpoint(`${models}tiny-strong`);
// The projection decodes with both models' KV caches; the checks re-score whole prefixes independently.
const pre = new Generator(strong, { threads: 1 });
const cur = new Generator(weak, { threads: 1 });
const preScorer = new Scorer(strong, { threads: 1 });
const curScorer = new Scorer(weak, { threads: 1 });
const projector = new Stage0Projector({ threads: 1 });
test.after.always(async () => {
  for (const x of [pre, cur, preScorer, curScorer, projector]) await x.release();
});

// "Start with 12. Step 1: add 7. Step 2: multiply by 2.\n" in the tiny tokenizer, via the chain format's ids.
const prompts = [
  [3 + 83, 3 + 116, 3 + 97, 3 + 114, 3 + 116],
  [3 + 49, 3 + 50, 3 + 46, 3 + 32],
];
const softmax = (l: Float32Array) => {
  const m = Math.max(...l);
  const e = Array.from(l, (x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
};

for (const temperature of [1, 0.7]) {
  test(
    `at temperature ${temperature} every sampled state stays within delta_0 of the incumbent, ` +
      'and the log-probs are log pi_new',
    async (t) => {
      const delta0 = 0.05;
      const gen = new ProjectedGenerator(pre, cur, projector, delta0);
      const out = await gen.generate(prompts, {
        maxNewTokens: 8,
        sampling: { temperature, topK: 0, topP: 1 },
        seed: 4,
      });
      const tempered = (l: Float32Array) => l.map((x) => x / temperature);
      for (const [r, g] of out.entries()) {
        t.true(g.tokens.length > 0);
        for (let k = 0; k < g.tokens.length; k++) {
          const prefix = [...prompts[r], ...g.tokens.slice(0, k)];
          const [a, b] = [
            (await preScorer.score([prefix])).lastLogits[0],
            (await curScorer.score([prefix])).lastLogits[0],
          ].map(tempered);
          const { piNew } = stage0Project(a, b, delta0);
          const q = softmax(b);
          const kl = Array.from(piNew).reduce((s, p, i) => (p > 0 ? s + p * Math.log(p / q[i]) : s), 0);
          t.true(kl <= delta0 + 1e-5, `row ${r} step ${k}: KL ${kl}`);
          t.true(
            Math.abs(g.logprobs[k] - Math.log(piNew[g.tokens[k]])) < 1e-4,
            `row ${r} step ${k}: ${g.logprobs[k]} vs ${Math.log(piNew[g.tokens[k]])}`,
          );
        }
      }
    },
  );
}

test('delta_0 -> 0 decodes as the incumbent, a huge delta_0 as the newcomer', async (t) => {
  const greedy = async (ckpt: typeof weak) => {
    const g = new Generator(ckpt, { threads: 1 });
    const out = await g.generate(prompts, { maxNewTokens: 8 });
    await g.release();
    return out.map((x) => x.tokens);
  };
  const [incumbent, newcomer] = [await greedy(weak), await greedy(strong)];
  t.notDeepEqual(incumbent, newcomer, 'the two models must disagree somewhere for this test to mean anything');
  t.deepEqual(
    (await new ProjectedGenerator(pre, cur, projector, 0).generate(prompts, { maxNewTokens: 8 })).map((x) => x.tokens),
    incumbent,
  );
  t.deepEqual(
    (await new ProjectedGenerator(pre, cur, projector, 1e6).generate(prompts, { maxNewTokens: 8 })).map(
      (x) => x.tokens,
    ),
    newcomer,
  );
});

test('greedy decoding takes the most likely token of the projection at the policy temperature', async (t) => {
  const [delta0, temperature] = [0.3, 0.7];
  const out = await new ProjectedGenerator(pre, cur, projector, delta0, temperature).generate(prompts, {
    maxNewTokens: 6,
  });
  for (const [r, g] of out.entries()) {
    for (let k = 0; k < g.tokens.length; k++) {
      const prefix = [...prompts[r], ...g.tokens.slice(0, k)];
      const [a, b] = [
        (await preScorer.score([prefix])).lastLogits[0],
        (await curScorer.score([prefix])).lastLogits[0],
      ].map((l) => l.map((x) => x / temperature));
      const { piNew } = stage0Project(a, b, delta0);
      t.is(g.tokens[k], piNew.indexOf(Math.max(...piNew)), `row ${r} step ${k}`);
    }
  }
});
