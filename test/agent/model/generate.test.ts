// KV-cache generation against the reference's greedy continuation and against teacher-forced scoring.
import test from 'ava';
import fs from 'node:fs';
import { loadCheckpoint } from '../../../node/agent/model/checkpoint.ts';
import { inMicroBatches } from '../../../node/agent/policy.ts';
import { Generator } from '../../../node/agent/model/generate.ts';
import { Scorer, padBatch } from '../../../node/agent/model/score.ts';
import { sftLoss } from '../../../node/agent/train/losses.ts';
import { Trainer } from '../../../node/agent/train/trainer.ts';

const DIR = new URL('../../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const expected = JSON.parse(fs.readFileSync(`${DIR}expected.json`, 'utf8'));
const ckpt = loadCheckpoint(DIR);
const gen = new Generator(ckpt, { threads: 1 });
const scorer = new Scorer(ckpt, { threads: 1 });
test.after.always(async () => {
  await gen.release();
  await scorer.release();
});

const sampling = { temperature: 1, topK: 50, topP: 0.9 };

test('greedy decoding with the KV cache reproduces the reference continuation exactly', async (t) => {
  const { prompt_ids: prompt, new_tokens: want, step_logprobs: lps } = expected.greedy;
  const [out] = await gen.generate([prompt], { maxNewTokens: want.length });
  t.deepEqual(out.tokens, want);
  out.logprobs.forEach((lp, i) => t.true(Math.abs(lp - lps[i]) < 1e-4, `step ${i}: ${lp} vs ${lps[i]}`));
  t.is(out.finishReason, 'length');
});

test("on the session worker (a peer's sessions) sampling gives what it gives on this thread, token for token", async (t) => {
  const there = new Generator(ckpt, { threads: 1, inWorker: true });
  const prompts = expected.sequences.map((s: { input_ids: number[] }) => s.input_ids);
  const opts = { maxNewTokens: 12, sampling, seed: 42 };
  const [a, b] = [await gen.generate(prompts, opts), await there.generate(prompts, opts)];
  t.deepEqual(
    b.map((r) => r.tokens),
    a.map((r) => r.tokens),
  );
  t.deepEqual(
    b.map((r) => r.logprobs),
    a.map((r) => r.logprobs),
  );
  await there.release();
});

test('a batch of prompts of different lengths decodes each row as if alone', async (t) => {
  const prompts = expected.sequences.map((s: { input_ids: number[] }) => s.input_ids);
  const batch = await gen.generate(prompts, { maxNewTokens: 6 });
  for (let i = 0; i < prompts.length; i++) {
    const [alone] = await gen.generate([prompts[i]], { maxNewTokens: 6 });
    t.deepEqual(batch[i].tokens, alone.tokens, `row ${i}`);
  }
});

test('sampled tokens carry log-probs equal to teacher-forced scoring (1e-4) and are reproducible by seed', async (t) => {
  const prompts = [expected.sequences[0].input_ids, expected.sequences[1].input_ids];
  const a = await gen.generate(prompts, { maxNewTokens: 12, sampling, seed: 42 });
  const b = await gen.generate(prompts, { maxNewTokens: 12, sampling, seed: 42 });
  const c = await gen.generate(prompts, { maxNewTokens: 12, sampling, seed: 43 });
  t.deepEqual(
    a.map((r) => r.tokens),
    b.map((r) => r.tokens),
  );
  t.notDeepEqual(
    a.map((r) => r.tokens),
    c.map((r) => r.tokens),
  );
  const scored = await scorer.score(prompts.map((p: number[], i: number) => [...p, ...a[i].tokens]));
  prompts.forEach((p: number[], i: number) => {
    const teacher = scored.tokenLogprobs[i].slice(p.length - 1);
    a[i].logprobs.forEach((lp, k) =>
      t.true(Math.abs(lp - teacher[k]) < 1e-4, `row ${i} token ${k}: ${lp} vs ${teacher[k]}`),
    );
  });
});

test('at temperature 0.7 the reported log-probs are those of softmax(logits / 0.7), as a scorer at 0.7 gives them', async (t) => {
  const prompts = [expected.sequences[0].input_ids, expected.sequences[2].input_ids];
  const out = await gen.generate(prompts, {
    maxNewTokens: 10,
    sampling: { temperature: 0.7, topK: 0, topP: 1 },
    seed: 9,
  });
  const cold = new Scorer(ckpt, { threads: 1 }, undefined, 0.7);
  const scored = await cold.score(prompts.map((p: number[], i: number) => [...p, ...out[i].tokens]));
  await cold.release();
  prompts.forEach((p: number[], i: number) => {
    const teacher = scored.tokenLogprobs[i].slice(p.length - 1);
    out[i].logprobs.forEach((lp, k) =>
      t.true(Math.abs(lp - teacher[k]) < 1e-4, `row ${i} token ${k}: ${lp} vs ${teacher[k]}`),
    );
  });
});

test('top-k 1 sampling is greedy whatever the seed', async (t) => {
  const prompt = [expected.greedy.prompt_ids];
  const [out] = await gen.generate(prompt, {
    maxNewTokens: 8,
    sampling: { temperature: 0.7, topK: 1, topP: 1 },
    seed: 5,
  });
  t.deepEqual(out.tokens, expected.greedy.new_tokens);
});

test('sampling follows the model distribution: the empirical frequency of the first token tracks its probability', async (t) => {
  const prompt = expected.sequences[1].input_ids;
  const {
    lastLogits: [logits],
  } = await scorer.score([prompt]);
  const z = Math.max(...logits);
  const probs = Array.from(logits, (l) => Math.exp(l - z));
  const sum = probs.reduce((a, b) => a + b, 0);
  const top = probs.indexOf(Math.max(...probs));
  const rows = Array.from({ length: 64 }, () => prompt);
  let hits = 0;
  for (let seed = 0; seed < 8; seed++) {
    const out = await gen.generate(rows, { maxNewTokens: 1, sampling: { temperature: 1, topK: 0, topP: 1 }, seed });
    hits += out.filter((r) => r.tokens[0] === top).length;
  }
  const p = probs[top] / sum;
  const n = 64 * 8;
  // Within 5 standard deviations of the binomial mean.
  t.true(Math.abs(hits - n * p) < 5 * Math.sqrt(n * p * (1 - p)) + 1, `top token drawn ${hits}/${n} times, p = ${p}`);
});

test('a batch sampled in micro-batches samples what it samples at once: each row draws from its own stream', async (t) => {
  const rows = Array.from({ length: 6 }, () => expected.sequences[1].input_ids);
  const opts = { maxNewTokens: 8, sampling: { temperature: 1, topK: 0, topP: 1 }, seed: 5 };
  const whole = await gen.generate(rows, opts);
  const parts = await inMicroBatches(gen, 4).generate(rows, opts);
  t.deepEqual(
    parts.map((r) => r.tokens),
    whole.map((r) => r.tokens),
  );
  parts.forEach((r, i) => r.logprobs.forEach((lp, k) => t.true(Math.abs(lp - whole[i].logprobs[k]) < 1e-5)));
  t.true(new Set(whole.map((r) => r.tokens.join())).size > 1, 'rows of one prompt still sample apart');
  // A share of the rows, taken elsewhere (a peer's chunks of a shared turn), samples what those rows do in the whole.
  const share = await gen.generate([rows[4], rows[1]], { ...opts, rows: [4, 1] });
  t.deepEqual(
    share.map((r) => r.tokens),
    [whole[4].tokens, whole[1].tokens],
  );
  await t.throwsAsync(gen.generate(rows, { ...opts, rows: [0] }), { message: '1 row indices for a batch of 6' });
});

test('generation stops at a stop token and keeps it', async (t) => {
  const { prompt_ids: prompt, new_tokens: greedy } = expected.greedy;
  const [out] = await gen.generate([prompt], { maxNewTokens: 8, stopTokenIds: [greedy[2]] });
  t.deepEqual(out.tokens, greedy.slice(0, 3));
  t.is(out.finishReason, 'eos');
});

test('stop strings end a row once the decoded text contains them', async (t) => {
  const { prompt_ids: prompt, new_tokens: greedy } = expected.greedy;
  const decode = (ids: number[]) => ids.map((id) => `<${id}>`).join('');
  const [out] = await gen.generate([prompt], { maxNewTokens: 8, stopStrings: [`<${greedy[1]}>`], decode });
  t.deepEqual(out.tokens, greedy.slice(0, 2));
  t.is(out.finishReason, 'stop');
});

test('rows that stop early keep their tokens while the others run on as if alone', async (t) => {
  const prompts = [expected.greedy.prompt_ids, expected.sequences[1].input_ids];
  const [alone0] = await gen.generate([prompts[0]], { maxNewTokens: 8 });
  const [alone1] = await gen.generate([prompts[1]], { maxNewTokens: 8 });
  // Row 0's third token ends it; row 1 must not contain that token in its first steps for the test to mean anything.
  const stop = alone0.tokens[2];
  t.false(alone1.tokens.includes(stop), 'pick prompts whose continuations differ');
  const [r0, r1] = await gen.generate(prompts, { maxNewTokens: 8, stopTokenIds: [stop] });
  t.deepEqual(r0.tokens, alone0.tokens.slice(0, 3));
  t.is(r0.finishReason, 'eos');
  t.deepEqual(r1.tokens, alone1.tokens);
  t.is(r1.finishReason, 'length');
  t.is(r0.logprobs.length, 3);
  t.is(r1.logprobs.length, 8);
});

test(
  'decoding in one graph (a Loop over the steps) gives what one run per step ' +
    "gives, with a trainer's weights, LoRA adapters and rows that stop early",
  async (t) => {
    const prompts = [
      expected.greedy.prompt_ids,
      ...expected.sequences.map((s: { input_ids: number[] }) => s.input_ids),
    ];
    // Stop strings need the text after every token, so they decode one run per step; this one never matches.
    const stepwise = { stopStrings: ['never'], decode: () => '' };
    const lora = { rank: 2, alpha: 4, targets: ['q_proj', 'down_proj'] };
    for (const trainable of [{ kind: 'full' as const }, { kind: 'lora' as const, lora }]) {
      const trainer = Trainer.create(ckpt, {
        loss: sftLoss,
        trainable,
        optimizer: { lr: 1e-3 },
        seed: 1,
        session: { threads: 1 },
      });
      const rows = prompts.map((p: number[]) => [...p, 5, 6, 7]);
      const { ids, mask, seq } = padBatch(rows);
      await trainer.trainStep({
        batch: rows.length,
        seq,
        inputIds: ids,
        attentionMask: mask,
        extra: {
          loss_mask: {
            dtype: 'float32',
            shape: [rows.length, seq - 1],
            data: new Float32Array(rows.length * (seq - 1)).fill(1),
          },
        },
      });
      const trained = new Generator(ckpt, { threads: 1 }, trainer.paramSource());
      // A stop token that ends some rows' greedy continuations and not others'.
      const greedy = await trained.generate(prompts, { maxNewTokens: 10 });
      const stop = greedy.flatMap((r) => r.tokens).find((x) => greedy.some((r) => !r.tokens.includes(x)))!;
      for (const opts of [
        { maxNewTokens: 10 },
        { maxNewTokens: 10, sampling, seed: 9 },
        { maxNewTokens: 10, stopTokenIds: [stop, 17] },
      ]) {
        const looped = await trained.generate(prompts, opts);
        const stepped = await trained.generate(prompts, { ...opts, ...stepwise });
        const what = `${trainable.kind} ${JSON.stringify(opts)}`;
        t.deepEqual(
          looped.map((r) => [r.tokens, r.finishReason]),
          stepped.map((r) => [r.tokens, r.finishReason]),
          what,
        );
        // The loop attends over the new token in its cache slot, the steps after the cache: sums in another order.
        looped.forEach((r, i) =>
          r.logprobs.forEach((lp, k) =>
            t.true(Math.abs(lp - stepped[i].logprobs[k]) < 1e-5, `${what}: row ${i} token ${k}`),
          ),
        );
      }
      const early = await trained.generate(prompts, { maxNewTokens: 10, stopTokenIds: [stop] });
      t.true(
        early.some((r) => r.finishReason === 'eos') && early.some((r) => r.tokens.length === 10),
        `${trainable.kind}: some rows stop early, others run on`,
      );
      await trained.release();
      await trainer.release();
    }
  },
);

test('a vanishing top-p or temperature samples the greedy token; top-k keeps draws among the k most likely', async (t) => {
  const prompt = expected.sequences[1].input_ids;
  const [greedy] = await gen.generate([prompt], { maxNewTokens: 1 });
  const rows = Array.from({ length: 16 }, () => prompt);
  for (const sampling of [
    { temperature: 1, topK: 0, topP: 1e-6 },
    { temperature: 1e-4, topK: 0, topP: 1 },
  ]) {
    const out = await gen.generate(rows, { maxNewTokens: 1, sampling, seed: 3 });
    t.deepEqual(
      out.map((r) => r.tokens[0]),
      rows.map(() => greedy.tokens[0]),
      JSON.stringify(sampling),
    );
  }
  const {
    lastLogits: [logits],
  } = await scorer.score([prompt]);
  const top3 = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 3);
  const drawn = new Set<number>();
  for (let seed = 0; seed < 4; seed++) {
    const out = await gen.generate(rows, { maxNewTokens: 1, sampling: { temperature: 5, topK: 3, topP: 1 }, seed });
    out.forEach((r) => drawn.add(r.tokens[0]));
  }
  t.true(
    [...drawn].every((id) => top3.includes(id)),
    `drawn ${[...drawn]} outside the top 3 ${top3}`,
  );
  t.true(drawn.size > 1, 'a hot temperature over 3 tokens should draw more than one of them');
});

test('bad requests are refused with a clear error', async (t) => {
  await t.throwsAsync(gen.generate([[1, 99999]], { maxNewTokens: 2 }), { name: 'InputError', message: /99999/ });
  await t.throwsAsync(gen.generate([[]], { maxNewTokens: 2 }), { name: 'InputError' });
  await t.throwsAsync(gen.generate([], { maxNewTokens: 2 }), { name: 'InputError', message: /no prompts/ });
  await t.throwsAsync(gen.generate([[1]], { maxNewTokens: 0 }), { name: 'InputError' });
  await t.throwsAsync(gen.generate([[1]], { maxNewTokens: 2, stopTokenIds: [2, 1.5] }), {
    name: 'InputError',
    message: /stop token ids must be integers >= 0, got 1.5/,
  });
  const context = ckpt.config.maxPositionEmbeddings;
  await t.throwsAsync(gen.generate([[1, 2]], { maxNewTokens: context - 1 }), {
    name: 'InputError',
    message: new RegExp(`context of ${context}`),
  });
  const bad = [
    [{ temperature: -1, topK: 0, topP: 1 }, /temperature/],
    [{ temperature: Number.NaN, topK: 0, topP: 1 }, /temperature/],
    [{ temperature: 1, topK: 1.5, topP: 1 }, /top-k/],
    [{ temperature: 1, topK: 0, topP: 0 }, /top-p/],
    [{ temperature: 1, topK: 0, topP: 1.5 }, /top-p/],
  ] as const;
  for (const [sampling, message] of bad)
    await t.throwsAsync(gen.generate([[1]], { maxNewTokens: 2, sampling }), { name: 'InputError', message });
  await t.throwsAsync(gen.generate([[1]], { maxNewTokens: 2, stopStrings: ['x'] }), {
    name: 'InputError',
    message: /decode/,
  });
  await t.throwsAsync(gen.generate([[1]], { maxNewTokens: 2, seed: -1 }), { name: 'InputError', message: /seed/ });
});
