// Training on the reference checkpoint: SFT loss falls (full and LoRA), backtracking restores exactly,
// trainable state round-trips through safetensors, the trained weights reach scoring, malformed
// batches are refused, and the gradient a step uses matches finite differences.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../../../node/agent/model/checkpoint.ts';
import { InputError } from '../../../node/agent/errors.ts';
import { type LossFn, sftLoss } from '../../../node/agent/train/losses.ts';
import { rng } from '../../../node/agent/model/random.ts';
import { Scorer, padBatch } from '../../../node/agent/model/score.ts';
import { BENCH_CONFIG, writeSyntheticCheckpoint } from '../../../node/agent/model/random-checkpoint.ts';
import type { TrainBatch } from '../../../node/agent/train/batch.ts';
import type { Trainable } from '../../../node/agent/train/trainable.ts';
import { Trainer } from '../../../node/agent/train/trainer.ts';
import type { HostTensor } from '../../../node/gpu/ort.ts';
import * as op from '../../../node/gpu/ops.ts';
import { readTensor, writeSafetensors } from '../../../node/gpu/safetensors.ts';
import { tempDir } from '../../temp-dir.ts';

const DIR = new URL('../../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const ckpt = loadCheckpoint(DIR);

/** A synthetic task: every row counts upward from its own start token. */
function countingBatch(starts: number[], len: number): TrainBatch {
  const rows = starts.map((s) => Array.from({ length: len }, (_, i) => 3 + ((s + i) % 100)));
  const { ids, mask, seq } = padBatch(rows);
  return {
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
  };
}

const batch = countingBatch([0, 17, 33, 50], 12);

test('full fine-tuning: SFT loss falls on a small synthetic set', async (t) => {
  const trainer = Trainer.create(ckpt, {
    loss: sftLoss,
    optimizer: { lr: 3e-3, weightDecay: 0 },
    session: { threads: 1 },
  });
  const first = await trainer.trainStep(batch);
  let last = first;
  for (let i = 0; i < 24; i++) last = await trainer.trainStep(batch);
  t.true(first.loss > 5, `the untrained model is near uniform (loss ${first.loss})`);
  t.true(last.loss < first.loss * 0.5, `loss fell from ${first.loss} to ${last.loss}`);
  t.true(first.gradNorm > 0);
  t.is(last.step, 25);
  await trainer.release();
});

test(
  'for the CUDA EP the step graph writes attention out (its Attention kernel ' +
    'has no probabilities output); on the CPU it uses the Attention op',
  (t) => {
    const attention = (device: 'cpu' | 'cuda') => {
      const nodes = Trainer.create(ckpt, { loss: sftLoss, session: { device } }).buildGraph(2, 8).nodes;
      return {
        ops: nodes.filter((n) => n.opType === 'Attention').length,
        softmaxes: nodes.filter((n) => n.opType === 'Softmax').length,
      };
    };
    t.deepEqual(attention('cpu'), { ops: ckpt.config.numLayers, softmaxes: 0 });
    t.deepEqual(attention('cuda'), { ops: 0, softmaxes: ckpt.config.numLayers });
  },
);

test('a batch with `at` runs the head at those log-prob indices only, and steps as a full batch whose loss masks all others', async (t) => {
  // Each row's loss reads 3 log-probs of its 11 (a repeat pads the second row's, masked out).
  const picks = [
    [2, 5, 9],
    [0, 7, 7],
  ];
  const used = [
    [1, 1, 1],
    [1, 1, 0],
  ];
  const base = countingBatch([0, 40], 12);
  const full = new Float32Array(2 * 11);
  picks.forEach((ps, r) =>
    ps.forEach((p, k) => {
      if (used[r][k]) full[r * 11 + p] = 1;
    }),
  );
  const whole: TrainBatch = { ...base, extra: { loss_mask: { dtype: 'float32', shape: [2, 11], data: full } } };
  const at: TrainBatch = {
    ...base,
    at: { index: BigInt64Array.from(picks.flat(), BigInt), count: 3 },
    extra: { loss_mask: { dtype: 'float32', shape: [2, 3], data: Float32Array.from(used.flat()) } },
  };
  const [a, b] = [whole, at].map(() =>
    Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 1e-2 }, session: { threads: 1 }, temperature: 0.7 }),
  );
  for (let i = 0; i < 3; i++) {
    const [x, y] = [await a.trainStep(whole), await b.trainStep(at)];
    t.true(
      Math.abs(x.loss - y.loss) < 1e-5 && Math.abs(x.gradNorm - y.gradNorm) < 1e-4 * x.gradNorm,
      `step ${i}: loss ${x.loss} / ${y.loss}, grad norm ${x.gradNorm} / ${y.gradNorm}`,
    );
  }
  for (const [name, p] of a.parameters) {
    const q = b.parameters.get(name)!;
    t.true(
      p.every((v, i) => Math.abs(v - q[i]) < 1e-5),
      name,
    );
  }
  // The head runs on [2, 3] positions: its log-softmax reads [2, 3, vocab], not [2, 12, vocab].
  const graph = b.buildGraph(2, 12, 3);
  t.true(
    graph.nodes.some((n) => n.opType === 'LogSoftmax' && n.inputs[0].shape.join() === `2,3,${ckpt.config.vocabSize}`),
  );
  await t.throwsAsync(b.trainStep({ ...at, at: { index: BigInt64Array.of(0n, 1n, 11n, 0n, 0n, 0n), count: 3 } }), {
    name: 'InputError',
    message: /at.index 11 \(row 0\) is out of range: log-prob indices run 0..10/,
  });
  await t.throwsAsync(b.trainStep({ ...at, at: { index: BigInt64Array.of(0n, 1n), count: 3 } }), {
    name: 'InputError',
    message: /batch × at.count/,
  });
  await a.release();
  await b.release();
});

test('LoRA trains only the adapters and its loss falls', async (t) => {
  const lora = { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'up_proj', 'down_proj'] };
  const trainer = Trainer.create(ckpt, {
    loss: sftLoss,
    trainable: { kind: 'lora', lora },
    optimizer: { lr: 1e-2, weightDecay: 0 },
    session: { threads: 1 },
  });
  const names = [...trainer.parameters.keys()];
  t.is(names.length, 2 * 4 * ckpt.config.numLayers);
  t.true(names.every((n) => /lora_[AB]\.weight$/.test(n)));
  const first = await trainer.trainStep(batch);
  let last = first;
  for (let i = 0; i < 20; i++) last = await trainer.trainStep(batch);
  t.true(last.loss < first.loss * 0.8, `loss fell from ${first.loss} to ${last.loss}`);
  await trainer.release();
});

test('restore after a snapshot brings back parameters, moments and step exactly', async (t) => {
  const trainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 1e-3 }, session: { threads: 1 } });
  await trainer.trainStep(batch);
  const snap = trainer.snapshot();
  const a = await trainer.trainStep(batch);
  const moved = trainer.parameters.get('model.norm.weight')!.slice();
  trainer.restore(snap);
  t.is(trainer.step, 1);
  t.notDeepEqual([...trainer.parameters.get('model.norm.weight')!], [...moved]);
  const b = await trainer.trainStep(batch);
  t.is(b.loss, a.loss);
  t.deepEqual([...trainer.parameters.get('model.norm.weight')!], [...moved]);
  await trainer.release();
});

test('trainable state saves to safetensors and loads into a fresh trainer', async (t) => {
  const dir = tempDir('sat-train-');
  const lora = { rank: 2, alpha: 4, targets: ['q_proj'] };
  const a = Trainer.create(ckpt, { loss: sftLoss, trainable: { kind: 'lora', lora }, session: { threads: 1 } });
  await a.trainStep(batch);
  a.save(path.join(dir, 'adapter.safetensors'));
  const b = Trainer.create(ckpt, {
    loss: sftLoss,
    trainable: { kind: 'lora', lora },
    seed: 99,
    session: { threads: 1 },
  });
  b.load(path.join(dir, 'adapter.safetensors'));
  for (const [name, x] of a.parameters) t.deepEqual([...b.parameters.get(name)!], [...x], name);
  t.is(b.step, 1);
  t.deepEqual(fs.readdirSync(dir), ['adapter.safetensors']);
  const next = [await a.trainStep(batch), await b.trainStep(batch)];
  t.is(next[0].loss, next[1].loss);
  await a.release();
  await b.release();
});

test("a scorer over the trainer's parameters sees the trained model", async (t) => {
  const trainer = Trainer.create(ckpt, {
    loss: sftLoss,
    optimizer: { lr: 3e-3, weightDecay: 0 },
    session: { threads: 1 },
  });
  const row = Array.from({ length: 12 }, (_, i) => 3 + i);
  const scorer = new Scorer(ckpt, { threads: 1 }, trainer.paramSource());
  const before = (await scorer.score([row])).tokenLogprobs[0].reduce((a, b) => a + b, 0);
  for (let i = 0; i < 10; i++) await trainer.trainStep(batch);
  const after = (await scorer.score([row])).tokenLogprobs[0].reduce((a, b) => a + b, 0);
  t.true(after > before + 1, `log-likelihood of a counting row rose from ${before} to ${after}`);
  await scorer.release();
  await trainer.release();
});

/** A right-padded batch (pad id 0, used by no real token) whose loss mask covers only real next tokens. */
function paddedBatch(rows: number[][]): TrainBatch {
  const { ids, mask, seq } = padBatch(rows);
  const lossMask = new Float32Array(rows.length * (seq - 1));
  rows.forEach((r, i) => lossMask.fill(1, i * (seq - 1), i * (seq - 1) + r.length - 1));
  return {
    batch: rows.length,
    seq,
    inputIds: ids,
    attentionMask: mask,
    extra: { loss_mask: { dtype: 'float32', shape: [rows.length, seq - 1], data: lossMask } },
  };
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const copyParams = (trainer: Trainer) => new Map([...trainer.parameters].map(([n, p]) => [n, p.slice()]));
const sameParams = (trainer: Trainer, expected: Map<string, Float32Array>) =>
  [...expected].every(([n, p]) => bytes(trainer.parameters.get(n)!).equals(bytes(p)));

test('trainStep refuses a malformed batch with one actionable InputError line', async (t) => {
  const trainer = Trainer.create(ckpt, { loss: sftLoss, session: { threads: 1 } });
  const good = paddedBatch([
    [5, 6, 7, 8],
    [9, 10, 11],
  ]);
  const lossMask = good.extra!.loss_mask;
  const edit = (i: number, v: bigint, key: 'inputIds' | 'attentionMask') => {
    const data = good[key].slice();
    data[i] = v;
    return { ...good, [key]: data };
  };
  const withExtra = (extra: Record<string, HostTensor>) => ({ ...good, extra });
  const cases: [TrainBatch, RegExp][] = [
    [{ ...good, batch: 0 }, /^batch and seq must be positive integers, got batch 0 and seq 4$/],
    [{ ...good, seq: 2.5 }, /positive integers/],
    [
      { ...good, inputIds: good.inputIds.slice(1) },
      /^inputIds must be a BigInt64Array of batch × seq = 8 values .* got 7$/,
    ],
    [{ ...good, attentionMask: good.attentionMask.slice(0, 6) }, /^attentionMask must be .* = 8 values/],
    [
      edit(6, 512n, 'inputIds'),
      /^token id 512 at row 1, position 2 is out of range: the vocabulary has 512 ids \(0\.\.511\)$/,
    ],
    [edit(0, -1n, 'inputIds'), /^token id -1 at row 0, position 0 is out of range/],
    [edit(3, 2n, 'attentionMask'), /^attentionMask is 2 at row 0, position 3; use 1 for tokens and 0 for padding$/],
    [withExtra({}), /^batch.extra lacks 'loss_mask': the loss needs it as float32 \[2, 3\]$/],
    [
      withExtra({ loss_mask: lossMask, advantages: lossMask }),
      /^batch.extra has 'advantages', which the loss does not declare; it declares 'loss_mask'$/,
    ],
    [
      withExtra({
        loss_mask: { ...lossMask, dtype: 'float64', data: Float64Array.from(lossMask.data as Float32Array) },
      }),
      /'loss_mask' is float64 \[2, 3\] with 6 values; the loss needs float32 \[2, 3\]/,
    ],
    [withExtra({ loss_mask: { ...lossMask, shape: [3, 2] } }), /'loss_mask' is float32 \[3, 2\]/],
    [withExtra({ loss_mask: { ...lossMask, data: new Float32Array(5) } }), /with 5 values; the loss needs/],
  ];
  for (const [bad, message] of cases) await t.throwsAsync(trainer.trainStep(bad), { instanceOf: InputError, message });
  t.is(trainer.step, 0);
  // A row that is all padding is no requirement: no key is visible to it, yet the step stays finite.
  const r = await trainer.trainStep({ ...good, attentionMask: good.attentionMask.map((m, i) => (i >= 4 ? 0n : m)) });
  t.true(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm));
  await trainer.release();
});

test('a snapshot is a deep copy: restoring it after later steps, twice, gives its parameters and step', async (t) => {
  const trainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 1e-2 }, session: { threads: 1 } });
  await trainer.trainStep(batch);
  const snap = trainer.snapshot();
  const taken = copyParams(trainer);
  await trainer.trainStep(batch);
  await trainer.trainStep(batch);
  t.false(sameParams(trainer, taken));
  trainer.restore(snap);
  t.true(sameParams(trainer, taken));
  t.is(trainer.step, 1);
  await trainer.trainStep(batch);
  trainer.restore(snap);
  t.true(sameParams(trainer, taken));
  t.is(trainer.step, 1);
  await trainer.release();
});

test('restore refuses a snapshot of another trainable set, even one of the same sizes', async (t) => {
  const lora = (targets: string[]): Trainable => ({ kind: 'lora', lora: { rank: 2, alpha: 4, targets } });
  const full = Trainer.create(ckpt, { loss: sftLoss, session: { threads: 1 } });
  const q = Trainer.create(ckpt, { loss: sftLoss, trainable: lora(['q_proj']), session: { threads: 1 } });
  // o_proj's adapters (A [2, 128], B [64, 2]) hold as many values as q_proj's (A [2, 64], B [128, 2]).
  const o = Trainer.create(ckpt, { loss: sftLoss, trainable: lora(['o_proj']), session: { threads: 1 } });
  const before = copyParams(q);
  const message = /^this snapshot was taken from a trainer of other trainable tensors/;
  t.throws(() => q.restore(full.snapshot()), { instanceOf: InputError, message });
  t.throws(() => q.restore(o.snapshot()), { instanceOf: InputError, message });
  t.true(sameParams(q, before));
  q.restore(q.snapshot());
  t.true(sameParams(q, before));
});

test('full fine-tuning trains exactly the tensors the Qwen3 graph reads, not extras stored beside them', async (t) => {
  const dir = tempDir('sat-extras-');
  fs.copyFileSync(path.join(DIR, 'config.json'), path.join(dir, 'config.json'));
  const tensors: Record<string, HostTensor> = Object.fromEntries(
    [...ckpt.tensors].map(([n, info]) => [n, readTensor(info)]),
  );
  const invFreq: HostTensor = {
    dtype: 'float32',
    shape: [16],
    data: Float32Array.from({ length: 16 }, (_, i) => 1e6 ** (-i / 16)),
  };
  tensors['model.rotary_emb.inv_freq'] = invFreq;
  tensors['model.layers.0.self_attn.rotary_emb.inv_freq'] = invFreq;
  tensors['model.vision_tower.proj.weight'] = { dtype: 'float32', shape: [4, 4], data: new Float32Array(16).fill(0.5) };
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const extras = loadCheckpoint(dir);
  t.is(extras.tensors.size, ckpt.tensors.size + 3);
  const opts = { loss: sftLoss, session: { threads: 1 } };
  const [trainer, reference] = [Trainer.create(extras, opts), Trainer.create(ckpt, opts)];
  t.deepEqual([...trainer.parameters.keys()].sort(), [...ckpt.tensors.keys()].sort());
  t.is((await trainer.trainStep(batch)).loss, (await reference.trainStep(batch)).loss);
  await trainer.release();
  await reference.release();
});

test('lr warms up linearly to its value at step warmupSteps, and only tensors of 2+ dimensions decay', async (t) => {
  // A loss with zero gradient: AdamW's update is 0, so all that moves a parameter is its decay.
  const flat: LossFn = ({ tokenLogprobs: lp }) => op.mul(op.reduceSum(lp, [0, 1]), op.scalarLike(lp, 0));
  const trainer = Trainer.create(ckpt, {
    loss: flat,
    optimizer: { lr: 0.3, warmupSteps: 3, weightDecay: 0.5 },
    session: { threads: 1 },
  });
  const before = copyParams(trainer);
  const b = { batch: 1, seq: 3, inputIds: BigInt64Array.of(3n, 4n, 5n), attentionMask: BigInt64Array.of(1n, 1n, 1n) };
  const lrs = [];
  for (let i = 0; i < 4; i++) lrs.push((await trainer.trainStep(b)).lr);
  t.deepEqual(
    lrs.map((x) => +x.toFixed(12)),
    [0.1, 0.2, 0.3, 0.3],
  );
  const shrink = (1 - 0.1 * 0.5) * (1 - 0.2 * 0.5) * (1 - 0.3 * 0.5) ** 2;
  for (const [name, p] of trainer.parameters) {
    const p0 = before.get(name)!;
    if (name.endsWith('norm.weight')) t.true(bytes(p).equals(bytes(p0)), name);
    else
      t.true(
        p.every((x, i) => Math.abs(x - p0[i] * shrink) <= 1e-6 * Math.abs(p0[i])),
        name,
      );
  }
  await trainer.release();
});

/**
 * AdamW with beta1 = beta2 = 0 and no clipping or decay moves each parameter by lr g / (|g| + eps):
 * with lr = eps = 1e6 that is the gradient g itself, so a step's parameter change is its gradient.
 */
const SGD = { lr: 1e6, eps: 1e6, beta1: 0, beta2: 0, weightDecay: 0, maxGradNorm: 0 };

/** The gradient the trainer's step uses, per trainable tensor (float64), leaving the trainer as it was. */
async function stepGradient(trainer: Trainer, b: TrainBatch): Promise<Map<string, Float64Array>> {
  const snap = trainer.snapshot();
  const before = copyParams(trainer);
  await trainer.trainStep(b);
  const grads = new Map(
    [...trainer.parameters].map(([n, p]) => [n, Float64Array.from(before.get(n)!, (x, i) => x - p[i])]),
  );
  trainer.restore(snap);
  return grads;
}

/** The loss with one parameter element set to `x` (the parameter views are live), leaving the trainer as it was. */
async function lossWith(trainer: Trainer, b: TrainBatch, name: string, i: number, x: number): Promise<number> {
  const snap = trainer.snapshot();
  trainer.parameters.get(name)![i] = x;
  const { loss } = await trainer.trainStep(b);
  trainer.restore(snap);
  return loss;
}

/** dL/dp at element i of `name` by the five-point central difference (step h, error O(h^4) plus float32 noise / h). */
async function finiteDifference(trainer: Trainer, b: TrainBatch, name: string, i: number, h = 0.1): Promise<number> {
  const x = trainer.parameters.get(name)![i];
  const [p1, m1, p2, m2] = [
    await lossWith(trainer, b, name, i, x + h),
    await lossWith(trainer, b, name, i, x - h),
    await lossWith(trainer, b, name, i, x + 2 * h),
    await lossWith(trainer, b, name, i, x - 2 * h),
  ];
  return (8 * (p1 - m1) - (p2 - m2)) / (12 * h);
}

test('the gradient a step uses matches finite differences on a right-padded batch, with LoRA and full fine-tuning', async (t) => {
  const b = paddedBatch([
    [5, 9, 14, 20, 27, 35, 44, 54],
    [7, 11, 16, 22, 29],
  ]);
  const next = rng(11);
  const pick = (names: string[], grads: Map<string, Float64Array>): [string, number] => {
    const name = names[Math.floor(next() * names.length)];
    return [name, Math.floor(next() * grads.get(name)!.length)];
  };
  const check = async (trainer: Trainer, grads: Map<string, Float64Array>, [name, i]: [string, number]) => {
    const [g, fd] = [grads.get(name)![i], await finiteDifference(trainer, b, name, i)];
    t.true(Math.abs(fd - g) <= 2e-5 + 1e-2 * Math.abs(g), `${name}[${i}]: step gradient ${g}, finite difference ${fd}`);
  };

  const lora = { rank: 2, alpha: 4, targets: ['q_proj', 'down_proj'] };
  const adapted = Trainer.create(ckpt, {
    loss: sftLoss,
    trainable: { kind: 'lora', lora },
    optimizer: SGD,
    session: { threads: 1 },
  });
  // B starts at zero (so A's gradient would be too): give it random values through the live views.
  for (const [name, p] of adapted.parameters)
    if (name.includes('lora_B'))
      p.forEach((_, i) => {
        p[i] = (next() * 2 - 1) * 0.1;
      });
  const loraGrads = await stepGradient(adapted, b);
  const names = [...loraGrads.keys()];
  for (const kind of ['lora_A', 'lora_B']) {
    for (let k = 0; k < 3; k++)
      await check(
        adapted,
        loraGrads,
        pick(
          names.filter((n) => n.includes(kind)),
          loraGrads,
        ),
      );
  }
  await adapted.release();

  const full = Trainer.create(ckpt, { loss: sftLoss, optimizer: SGD, session: { threads: 1 } });
  const grads = await stepGradient(full, b);
  for (let k = 0; k < 4; k++) await check(full, grads, pick([...grads.keys()], grads));
  // The pad token (id 0) appears only at masked positions: its embedding row gets no gradient at all.
  const hidden = ckpt.config.hiddenSize;
  const padRow = grads.get('model.embed_tokens.weight')!.subarray(0, hidden);
  t.true(padRow.every((g) => g === 0));
  t.is(await finiteDifference(full, b, 'model.embed_tokens.weight', 7), 0);
  t.true(
    grads
      .get('model.embed_tokens.weight')!
      .subarray(5 * hidden, 6 * hidden)
      .some((g) => g !== 0),
    "a real token's row does get a gradient",
  );
  await full.release();
});

test('steps started together run one after another, as if awaited in turn', async (t) => {
  const options = { loss: sftLoss, optimizer: { lr: 1e-3 }, session: { threads: 1 } };
  const together = Trainer.create(ckpt, options);
  const inTurn = Trainer.create(ckpt, options);
  const extra = {
    loss_mask: {
      dtype: 'float32' as const,
      shape: [batch.batch, batch.seq - 1],
      data: new Float32Array(batch.batch * (batch.seq - 1)).fill(1),
    },
  };
  const b = { ...batch, extra };
  const results = await Promise.all([together.trainStep(b), together.trainStep(b), together.trainStep(b)]);
  t.deepEqual(
    results.map((r) => r.step),
    [1, 2, 3],
  );
  for (let i = 0; i < 3; i++) await inTurn.trainStep(b);
  t.true(sameParams(together, copyParams(inTurn)));
  await together.release();
  await inTurn.release();
});

test('a step accumulated over micro-batches, each weighted by its share of the tokens, is the step on the whole batch', async (t) => {
  const rows = [
    [5, 9, 3, 7, 11, 4, 8],
    [6, 2, 9],
    [12, 13, 14, 15, 16],
    [3, 4],
  ];
  const tokens = rows.map((r) => r.length - 1);
  const total = tokens.reduce((a, b) => a + b, 0);
  const micro = [[0, 1], [2], [3]].map((ix) => ({
    batch: paddedBatch(ix.map((i) => rows[i])),
    weight: ix.reduce((s, i) => s + tokens[i], 0) / total,
  }));
  for (const maxGradNorm of [0, 0.05]) {
    const options = { loss: sftLoss, optimizer: { ...SGD, maxGradNorm }, session: { threads: 1 } };
    const [whole, parts] = [Trainer.create(ckpt, options), Trainer.create(ckpt, options)];
    const before = copyParams(whole);
    const a = await whole.trainStep(paddedBatch(rows));
    const b = await parts.accumulatedStep(micro);
    t.is(b.step, 1);
    t.true(Math.abs(a.loss - b.loss) < 1e-5, `loss ${a.loss} vs ${b.loss}`);
    t.true(Math.abs(a.gradNorm - b.gradNorm) < 1e-4 * a.gradNorm, `gradient norm ${a.gradNorm} vs ${b.gradNorm}`);
    let worst = 0;
    for (const [name, p] of whole.parameters) {
      const q = parts.parameters.get(name)!;
      const b0 = before.get(name)!;
      for (let i = 0; i < p.length; i++)
        worst = Math.max(worst, Math.abs(b0[i] - p[i] - (b0[i] - q[i])) / (1e-6 + 1e-3 * Math.abs(b0[i] - p[i])));
    }
    t.true(
      worst <= 1,
      `every parameter moved alike (worst ${worst.toFixed(3)} of the 1e-6 abs + 1e-3 rel tolerance), clipping ${maxGradNorm || 'off'}`,
    );
    await whole.release();
    await parts.release();
  }
});

test(
  'releaseSessions lets go of every training session (and its memory ' +
    'arena); the next step builds its own again and computes what it did',
  async (t) => {
    const trainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 1e-3 }, session: { threads: 1 } });
    const [short, long] = [countingBatch([0, 17], 12), countingBatch([0, 17], 20)];
    await trainer.trainStep(short);
    await trainer.accumulatedStep([
      { batch: short, weight: 0.5 },
      { batch: long, weight: 0.5 },
    ]);
    t.deepEqual(trainer.liveBuckets.sort(), ['grad:2x12', 'grad:2x20', 'step:2x12'], 'kept across steps');
    const snap = trainer.snapshot();
    const a = await trainer.trainStep(long);
    await trainer.releaseSessions();
    t.deepEqual(trainer.liveBuckets, []);
    trainer.restore(snap);
    const b = await trainer.trainStep(long);
    t.deepEqual(trainer.liveBuckets, ['step:2x20']);
    t.is(b.loss, a.loss);
    t.is(b.gradNorm, a.gradNorm);
  },
);

test(
  'a trainer on the session worker steps as it does here, and a scorer there sees ' +
    'every change: a step, an accumulated step, an interpolation, a restore, a load',
  async (t) => {
    const make = (inWorker: boolean) => {
      const trainer = Trainer.create(ckpt, {
        loss: sftLoss,
        optimizer: { lr: 3e-3 },
        session: { threads: 1, inWorker },
      });
      return { trainer, scorer: new Scorer(ckpt, { threads: 1, inWorker }, trainer.paramSource()) };
    };
    const [here, there] = [make(false), make(true)];
    const row = Array.from({ length: 12 }, (_, i) => 3 + i);
    const same = async (when: string) => {
      t.true(sameParams(there.trainer, copyParams(here.trainer)), `parameters ${when}`);
      const [a, b] = await Promise.all(
        [here, there].map(async (x) => [...(await x.scorer.score([row])).tokenLogprobs[0]]),
      );
      t.deepEqual(b, a, `scores ${when}`);
      return a;
    };
    const start = await same('at the start');
    const snaps = [here, there].map((x) => x.trainer.snapshot());
    const file = path.join(tempDir('sat-worker-train-'), 'state.safetensors');
    here.trainer.save(file);
    for (const x of [here, there]) {
      await x.trainer.trainStep(batch);
      await x.trainer.accumulatedStep([
        { batch: countingBatch([0, 17], 12), weight: 0.5 },
        { batch: countingBatch([33, 50], 12), weight: 0.5 },
      ]);
    }
    const stepped = await same('after a step and an accumulated step');
    t.notDeepEqual(stepped, start);
    const laters = [here, there].map((x) => x.trainer.snapshot());
    [here, there].forEach((x, i) => x.trainer.interpolate(snaps[i], laters[i], 0.5));
    t.notDeepEqual(await same('after an interpolation'), stepped);
    [here, there].forEach((x, i) => x.trainer.restore(snaps[i]));
    t.deepEqual(await same('after a restore'), start);
    await there.trainer.trainStep(batch);
    there.trainer.load(file);
    t.deepEqual(await same('after a load'), start);
    for (const x of [here, there]) {
      await x.scorer.release();
      await x.trainer.release();
    }
  },
);

test("setParams puts another trainer's policy values in, which a scorer on the worker sees; its step stays", async (t) => {
  const make = () =>
    Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 3e-3 }, session: { threads: 1, inWorker: true } });
  const [trained, replica] = [make(), make()];
  const scorer = new Scorer(ckpt, { threads: 1, inWorker: true }, replica.paramSource());
  const row = Array.from({ length: 12 }, (_, i) => 3 + i);
  await trained.trainStep(batch);
  const before = replica.snapshot();
  replica.setParams(trained.paramSource().current());
  t.true(sameParams(replica, copyParams(trained)), 'the trained values');
  const theirs = new Scorer(ckpt, { threads: 1, inWorker: true }, trained.paramSource());
  t.deepEqual(
    [...(await scorer.score([row])).tokenLogprobs[0]],
    [...(await theirs.score([row])).tokenLogprobs[0]],
    'scored as the trained model',
  );
  t.is(replica.snapshot().step, before.step, 'no step taken');
  const wrong = new Map([...trained.paramSource().current()].map(([n, v]) => [n, { data: v.data.subarray(1) }]));
  t.throws(() => replica.setParams(wrong), { instanceOf: InputError, message: /the tensors given have \d+ values '/ });
  for (const x of [scorer, theirs, trained, replica]) await x.release();
});

// Serial: ava runs serial tests before the concurrent ones, whose in-thread runs would stall this thread.
test.serial(
  'a trainer on the session worker (as a peer runs it): the main thread keeps ticking every 10 ms through a multi-second step',
  async (t) => {
    const dir = tempDir('sat-tick-');
    writeSyntheticCheckpoint(dir, BENCH_CONFIG);
    const trainer = Trainer.create(loadCheckpoint(dir), {
      loss: sftLoss,
      optimizer: { lr: 1e-4 },
      session: { threads: 2, inWorker: true },
    });
    const [b, s] = [16, 256];
    const { ids, mask } = padBatch(
      Array.from({ length: b }, (_, r) => Array.from({ length: s }, (_, i) => 3 + ((r * 31 + i * 7) % 4000))),
    );
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 10);
    const t0 = performance.now();
    // The first step also builds its session: on the worker too.
    const result = await trainer.trainStep({
      batch: b,
      seq: s,
      inputIds: ids,
      attentionMask: mask,
      extra: { loss_mask: { dtype: 'float32', shape: [b, s - 1], data: new Float32Array(b * (s - 1)).fill(1) } },
    });
    const took = performance.now() - t0;
    clearInterval(timer);
    await trainer.release();
    t.log(`step ${took.toFixed(0)} ms, worst tick gap ${worstGap.toFixed(1)} ms`);
    t.true(Number.isFinite(result.loss));
    t.true(took >= 1000, `the step took ${took.toFixed(0)} ms, too short to prove anything`);
    // In this thread the step would stall the loop for all of it; on the worker only the machine's other load
    // (the test run's other files, on as few as 2 cores) delays a tick, by far less than the step.
    t.true(
      worstGap < took / 8,
      `the event loop stalled for ${worstGap.toFixed(0)} ms during a ${took.toFixed(0)} ms step`,
    );
  },
);
