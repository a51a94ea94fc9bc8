// The Qwen3 graph against the independent PyTorch reference in test/fixtures/qwen3-tiny-a.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { Graph } from '../../../node/gpu/graph.ts';
import { gradients } from '../../../node/gpu/autodiff.ts';
import * as op from '../../../node/gpu/ops.ts';
import { type HostTensor, Session } from '../../../node/gpu/ort.ts';
import { readSafetensorsHeader, readTensor, toFloat32, writeSafetensors } from '../../../node/gpu/safetensors.ts';
import { loadCheckpoint } from '../../../node/agent/model/checkpoint.ts';
import { qwen3Forward } from '../../../node/agent/model/qwen3.ts';
import { Scorer, defaultPositions, tokenLogprobs } from '../../../node/agent/model/score.ts';
import { bindWeights, frozenInputs } from '../../../node/agent/model/weights.ts';
import { sftLoss } from '../../../node/agent/train/losses.ts';
import { writeSyntheticCheckpoint } from '../../../node/agent/model/random-checkpoint.ts';
import { Trainer } from '../../../node/agent/train/trainer.ts';
import { tempDir } from '../../temp-dir.ts';

const DIR = new URL('../../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const expected = JSON.parse(fs.readFileSync(`${DIR}expected.json`, 'utf8'));
const ckpt = loadCheckpoint(DIR);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const scorer = new Scorer(ckpt, { threads: 1 });
test.after.always(() => scorer.release());

for (const k of [0, 1, 2]) {
  test(`sequence ${k}: last logits and next-token log-probs match the reference within 1e-4`, async (t) => {
    const seq = expected.sequences[k];
    const {
      tokenLogprobs: [lp],
      lastLogits: [logits],
    } = await scorer.score([seq.input_ids]);
    t.true(
      maxAbsDiff(lp, seq.next_token_logprobs) < 1e-4,
      `log-probs differ by ${maxAbsDiff(lp, seq.next_token_logprobs)}`,
    );
    t.true(maxAbsDiff(logits, seq.last_logits) < 1e-4, `logits differ by ${maxAbsDiff(logits, seq.last_logits)}`);
    t.is(logits.indexOf(Math.max(...logits)), seq.last_argmax);
    t.true(Math.abs(lp.reduce((a, b) => a + b, 0) - seq.sum_logprob) < 1e-3);
  });
}

test('a right-padded batch gives each row its single-sequence values', async (t) => {
  const pb = expected.padded_batch;
  const rows = expected.sequences.map((s: { input_ids: number[] }) => s.input_ids);
  const out = await scorer.score(rows);
  rows.forEach((_: number[], i: number) => {
    t.true(maxAbsDiff(out.tokenLogprobs[i], pb.next_token_logprobs[i]) < 1e-4, `row ${i} log-probs`);
    t.true(maxAbsDiff(out.lastLogits[i], pb.last_logits[i]) < 1e-4, `row ${i} last logits`);
  });
});

test('whole next-token distributions at chosen positions agree with the reference log-probs and the last logits', async (t) => {
  const rows = expected.sequences.map((s: { input_ids: number[] }) => s.input_ids);
  const at = rows.map((r: number[], i: number) => (i === 1 ? [r.length - 1] : [0, 2, r.length - 1]));
  const dists = await scorer.distributionsAt(rows, at);
  const vocab = ckpt.config.vocabSize;
  rows.forEach((r: number[], i: number) => {
    const seq = expected.sequences[i];
    t.is(dists[i].length, at[i].length * vocab);
    at[i].forEach((p: number, k: number) => {
      const d = dists[i].subarray(k * vocab, (k + 1) * vocab);
      t.true(Math.abs(d.reduce((s, x) => s + Math.exp(x), 0) - 1) < 1e-4, 'a distribution');
      if (p < r.length - 1) t.true(Math.abs(d[r[p + 1]] - seq.next_token_logprobs[p]) < 1e-4, `row ${i} position ${p}`);
      else t.is(d.indexOf(Math.max(...d)), seq.last_argmax);
    });
  });
  await t.throwsAsync(scorer.distributionsAt(rows, [[0], [99], [0]]), {
    name: 'InputError',
    message: /index 99 lies outside row 1/,
  });
});

test('log-probs and values at chosen indices (the head run there only) equal whole-row scoring there', async (t) => {
  const rows = expected.sequences.map((s: { input_ids: number[] }) => s.input_ids);
  const at = rows.map((r: number[], i: number) => (i === 1 ? [r.length - 2] : [0, 2, 2, r.length - 2]));
  // A value head with weights of its own, so that V differs from row to row and index to index.
  const trainer = Trainer.create(ckpt, { loss: sftLoss, valueHead: true, session: { threads: 1 } });
  for (const [name, w] of trainer.parameters)
    if (name.startsWith('value_head'))
      w.forEach((_, j) => {
        w[j] = Math.sin(j + 1) / 4;
      });
  const withHead = new Scorer(ckpt, { threads: 1 }, trainer.paramSource(), 0.7);
  const whole = await withHead.score(rows);
  const got = await withHead.logprobsAt(rows, at);
  rows.forEach((_: number[], i: number) => {
    t.true(
      maxAbsDiff(
        got.logprobs[i],
        at[i].map((p: number) => whole.tokenLogprobs[i][p]),
      ) < 1e-5,
      `row ${i} log-probs`,
    );
    t.true(
      maxAbsDiff(
        got.values![i],
        at[i].map((p: number) => whole.values![i][p]),
      ) < 1e-5,
      `row ${i} values`,
    );
  });
  t.true(new Set(got.values![0]).size > 1);
  // The last token has no next token to score.
  await t.throwsAsync(withHead.logprobsAt(rows, [[0], [rows[1].length - 1], [0]]), {
    name: 'InputError',
    message: /index \d+ lies outside row 1 .*the last has no next token/,
  });
  await withHead.release();
  await trainer.release();
});

test('out-of-range token ids are refused with a message naming the id', async (t) => {
  const err = await t.throwsAsync(scorer.score([[1, 512]]));
  t.regex(err!.message, /512/);
  await t.throwsAsync(scorer.score([]), { name: 'InputError', message: /no sequences/ });
  await t.throwsAsync(scorer.score([[1], []]), { name: 'InputError', message: /empty/ });
  const tooLong = Array.from({ length: ckpt.config.maxPositionEmbeddings + 1 }, () => 1);
  await t.throwsAsync(scorer.score([tooLong]), { name: 'InputError', message: /max_position_embeddings/ });
});

for (const writtenOutAttention of [false, true]) {
  const form = writtenOutAttention ? ", attention written out (the CUDA EP's form)" : '';
  test(`the gradient of the summed NLL matches the reference for every parameter (1e-4 abs + 1e-3 rel)${form}`, async (t) => {
    const ids = expected.sequences[0].input_ids as number[];
    const g = new Graph();
    const idsV = g.input('input_ids', 'int64', [1, ids.length]);
    const { weights, params } = bindWeights(g, ckpt, new Set(ckpt.tensors.keys()));
    const { logits } = qwen3Forward(ckpt.config, weights, {
      ids: idsV,
      positions: defaultPositions(idsV),
      keyMask: op.cast(op.expand(g.constant('bool', [], [1]), [1, ids.length]), 'bool'),
      maxPosition: ids.length,
      writtenOutAttention,
    });
    const loss = op.neg(op.reduceSum(tokenLogprobs(logits, idsV), [0, 1]));
    g.output(loss, 'loss');
    const names = [...params.keys()];
    gradients(
      loss,
      names.map((n) => params.get(n)!),
    ).forEach((gv, i) => g.output(gv, `grad.${names[i]}`));
    t.is(
      g.nodes.some((n) => n.opType === 'Attention'),
      !writtenOutAttention,
    );
    const session = await Session.create(g.toBytes(), { fileInputs: frozenInputs(ckpt) });
    const feeds = Object.fromEntries(
      names.map((n) => [
        n,
        {
          dtype: 'float32' as const,
          shape: ckpt.tensors.get(n)!.shape,
          data: toFloat32(readTensor(ckpt.tensors.get(n)!)),
        },
      ]),
    );
    const out = await session.run({
      input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
      ...feeds,
    });
    t.true(
      Math.abs(Number(out.loss.data[0]) - expected.loss.L) < 1e-3,
      `loss ${out.loss.data[0]} vs ${expected.loss.L}`,
    );
    const ref = readSafetensorsHeader(`${DIR}grads.safetensors`);
    t.is(names.length, ref.size);
    for (const n of names) {
      const want = toFloat32(readTensor(ref.get(n)!));
      const got = out[`grad.${n}`].data as Float32Array;
      let worst = 0;
      let at = 0;
      for (let i = 0; i < want.length; i++) {
        const r = Math.abs(got[i] - want[i]) / (1e-4 + 1e-3 * Math.abs(want[i]));
        if (r > worst) [worst, at] = [r, i];
      }
      t.true(
        worst <= 1,
        `${n}: element ${at} autodiff ${got[at]} vs reference ${want[at]} (first values ${[...got.slice(0, 3)]} ` +
          `vs ${[...want.slice(0, 3)]})`,
      );
    }
    await session.release();
  });
}

test("attention written out gives the Attention op's logits on a left-padded batch, and finite ones where a pad sees no key", async (t) => {
  const rows = expected.sequences.map((s: { input_ids: number[] }) => s.input_ids as number[]);
  const width = Math.max(...rows.map((r: number[]) => r.length));
  const logitsOf = async (writtenOutAttention: boolean) => {
    const g = new Graph();
    const ids = g.input('input_ids', 'int64', [rows.length, width]);
    const mask = g.input('attention_mask', 'int64', [rows.length, width]);
    const positions = op.clip(op.sub(op.cumSum(mask, 1), g.scalar('int64', 1)), 0, width);
    const { weights } = bindWeights(g, ckpt);
    g.output(
      qwen3Forward(ckpt.config, weights, {
        ids,
        positions,
        keyMask: op.cast(mask, 'bool'),
        maxPosition: width,
        writtenOutAttention,
      }).logits,
      'logits',
    );
    const session = await Session.create(g.toBytes(), { fileInputs: frozenInputs(ckpt) });
    const pad = (r: number[]) => width - r.length;
    const out = await session.run({
      input_ids: {
        dtype: 'int64',
        shape: [rows.length, width],
        data: BigInt64Array.from(
          rows.flatMap((r: number[]) => [...new Array(pad(r)).fill(0), ...r]),
          BigInt,
        ),
      },
      attention_mask: {
        dtype: 'int64',
        shape: [rows.length, width],
        data: BigInt64Array.from(
          rows.flatMap((r: number[]) => [...new Array(pad(r)).fill(0), ...r.map(() => 1)]),
          BigInt,
        ),
      },
    });
    await session.release();
    return out.logits.data as Float32Array;
  };
  const [viaOp, writtenOut] = [await logitsOf(false), await logitsOf(true)];
  t.true(
    rows.some((r: number[]) => r.length < width),
    'some row is padded',
  );
  t.true(writtenOut.every(Number.isFinite));
  const vocab = ckpt.config.vocabSize;
  rows.forEach((r: number[], i: number) => {
    for (let p = width - r.length; p < width; p++) {
      const at = (i * width + p) * vocab;
      t.true(
        maxAbsDiff(viaOp.subarray(at, at + vocab), writtenOut.subarray(at, at + vocab)) < 1e-5,
        `row ${i} position ${p}`,
      );
    }
  });
});

test('attention written out decodes as the Attention op does: one token against a cache written in its slot', async (t) => {
  const seq = expected.sequences[0].input_ids as number[];
  const cap = seq.length;
  const { numKvHeads: kv, headDim: d, numLayers } = ckpt.config;
  const prefix = seq.slice(0, -1);
  // The cache: the prefix's keys/values in slots 0..n-2, slot n-1 left for the new token.
  const prefill = new Graph();
  const pids = prefill.input('input_ids', 'int64', [1, prefix.length]);
  const { weights: pw } = bindWeights(prefill, ckpt);
  qwen3Forward(ckpt.config, pw, {
    ids: pids,
    positions: defaultPositions(pids),
    keyMask: op.cast(op.expand(prefill.constant('bool', [], [1]), [1, prefix.length]), 'bool'),
    maxPosition: prefix.length,
  }).present.forEach((p, l) => {
    prefill.output(op.pad(p.k, [0, 0, 0, 0, 0, 0, 1, 0]), `k${l}`);
    prefill.output(op.pad(p.v, [0, 0, 0, 0, 0, 0, 1, 0]), `v${l}`);
  });
  const ps = await Session.create(prefill.toBytes(), { fileInputs: frozenInputs(ckpt) });
  const cache = await ps.run({
    input_ids: { dtype: 'int64', shape: [1, prefix.length], data: BigInt64Array.from(prefix, BigInt) },
  });
  await ps.release();
  const step = async (writtenOutAttention: boolean) => {
    const g = new Graph();
    const ids = g.input('input_ids', 'int64', [1, 1]);
    const positions = g.constant('int64', [1, 1], [cap - 1]);
    const past = Array.from({ length: numLayers }, (_, l) => ({
      k: g.input(`k${l}`, 'float32', [1, kv, cap, d]),
      v: g.input(`v${l}`, 'float32', [1, kv, cap, d]),
    }));
    const slot = g.constant('int64', [1, kv, 1, d], new Array(kv * d).fill(cap - 1));
    const { weights } = bindWeights(g, ckpt);
    const { logits } = qwen3Forward(ckpt.config, weights, {
      ids,
      positions,
      keyMask: op.cast(op.expand(g.constant('bool', [], [1]), [1, cap]), 'bool'),
      past,
      maxPosition: cap,
      writtenOutAttention,
      attendOver: (_, p, now) => ({
        k: op.scatterElements(p.k, slot, now.k, 2),
        v: op.scatterElements(p.v, slot, now.v, 2),
      }),
    });
    g.output(logits, 'logits');
    const s = await Session.create(g.toBytes(), { fileInputs: frozenInputs(ckpt) });
    const out = await s.run({
      input_ids: { dtype: 'int64', shape: [1, 1], data: BigInt64Array.of(BigInt(seq.at(-1)!)) },
      ...cache,
    });
    await s.release();
    return out.logits.data as Float32Array;
  };
  const [viaOp, writtenOut] = [await step(false), await step(true)];
  t.true(maxAbsDiff(viaOp, writtenOut) < 1e-5, `logits differ by ${maxAbsDiff(viaOp, writtenOut)}`);
  t.true(maxAbsDiff(writtenOut, expected.sequences[0].last_logits) < 1e-4, "and match the reference's last logits");
});

/** The fixture rewritten with every weight in a half-precision format (bits computed here). */
function halfCopy(dtype: 'bfloat16' | 'float16'): string {
  const dir = tempDir(`sat-${dtype}-`);
  const tensors: Record<string, HostTensor> = {};
  for (const [name, info] of ckpt.tensors) {
    const x = toFloat32(readTensor(info));
    tensors[name] = { dtype, shape: info.shape, data: Uint16Array.from(x, dtype === 'bfloat16' ? toBf16 : toF16) };
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  fs.copyFileSync(`${DIR}config.json`, path.join(dir, 'config.json'));
  return dir;
}
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
/** float32 -> bfloat16 bits, round to nearest even. */
function toBf16(x: number): number {
  asFloat[0] = x;
  return ((bits[0] + 0x7fff + ((bits[0] >>> 16) & 1)) >>> 16) & 0xffff;
}
/** float32 -> float16 bits for the normal range these weights live in (|x| in [6e-5, 65504]), else 0. */
function toF16(x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 6.2e-5) return sign;
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return m === 1024 ? sign | ((e + 16) << 10) : sign | ((e + 15) << 10) | m;
}

for (const dtype of ['bfloat16', 'float16'] as const) {
  test(`${dtype} weights run in place (cast in the graph) and track the float32 model`, async (t) => {
    const half = new Scorer(loadCheckpoint(halfCopy(dtype)), { threads: 1 });
    const seq = expected.sequences[0];
    const {
      tokenLogprobs: [lp],
    } = await half.score([seq.input_ids]);
    // bf16 keeps 8 mantissa bits, f16 11: the log-probs move, but by far less than a mistake would.
    const tol = dtype === 'bfloat16' ? 0.05 : 0.01;
    t.true(
      maxAbsDiff(lp, seq.next_token_logprobs) < tol,
      `${dtype} log-probs differ by ${maxAbsDiff(lp, seq.next_token_logprobs)}`,
    );
    t.true(maxAbsDiff(lp, seq.next_token_logprobs) > 0, 'the weights really were rounded');
    await half.release();
  });
}

test('a checkpoint with tied embeddings scores with the embedding as its head, and trains it through both uses', async (t) => {
  const dir = tempDir('sat-tied-');
  writeSyntheticCheckpoint(dir, {
    vocabSize: 64,
    hiddenSize: 32,
    intermediateSize: 48,
    numLayers: 1,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 16,
    tieWordEmbeddings: true,
  });
  const tied = loadCheckpoint(dir);
  t.false(tied.tensors.has('lm_head.weight'));
  const s = new Scorer(tied, { threads: 1 });
  const {
    lastLogits: [logits],
  } = await s.score([[3, 4, 5]]);
  t.is(logits.length, 64);
  const trainer = Trainer.create(tied, {
    loss: sftLoss,
    optimizer: { lr: 1e-2, weightDecay: 0 },
    session: { threads: 1 },
  });
  t.false(trainer.parameters.has('lm_head.weight'));
  const batch = {
    batch: 1,
    seq: 4,
    inputIds: BigInt64Array.of(3n, 4n, 5n, 6n),
    attentionMask: BigInt64Array.of(1n, 1n, 1n, 1n),
    extra: { loss_mask: { dtype: 'float32' as const, shape: [1, 3], data: Float32Array.of(1, 1, 1) } },
  };
  const before = trainer.parameters.get('model.embed_tokens.weight')!.slice();
  const first = await trainer.trainStep(batch);
  let last = first;
  for (let i = 0; i < 10; i++) last = await trainer.trainStep(batch);
  t.true(last.loss < first.loss);
  // Rows of tokens never seen as inputs still move: the head's gradient reaches them.
  const row = 40 * 32;
  t.notDeepEqual(
    [...trainer.parameters.get('model.embed_tokens.weight')!.slice(row, row + 32)],
    [...before.slice(row, row + 32)],
  );
  await s.release();
  await trainer.release();
});
