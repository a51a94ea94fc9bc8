// The Qwen3 graph against the independent PyTorch reference in test/fixtures/qwen3-tiny-a.
import test from 'ava';
import fs from 'node:fs';
import { Graph } from '../../node/gpu/graph.ts';
import { gradients } from '../../node/gpu/autodiff.ts';
import * as op from '../../node/gpu/ops.ts';
import { Session } from '../../node/gpu/ort.ts';
import { readSafetensorsHeader, readTensor, toFloat32 } from '../../node/gpu/safetensors.ts';
import { loadCheckpoint } from '../../node/agent/checkpoint.ts';
import { qwen3Forward } from '../../node/agent/qwen3.ts';
import { Scorer, defaultPositions, tokenLogprobs } from '../../node/agent/score.ts';
import { bindWeights } from '../../node/agent/weights.ts';

const DIR = new URL('../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
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
    const { tokenLogprobs: [lp], lastLogits: [logits] } = await scorer.score([seq.input_ids]);
    t.true(maxAbsDiff(lp, seq.next_token_logprobs) < 1e-4, `log-probs differ by ${maxAbsDiff(lp, seq.next_token_logprobs)}`);
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

test('out-of-range token ids are refused with a message naming the id', async (t) => {
  const err = await t.throwsAsync(scorer.score([[1, 512]]));
  t.regex(err!.message, /512/);
});

test('the gradient of the summed NLL matches the reference for every parameter (1e-4 abs + 1e-3 rel)', async (t) => {
  const ids = expected.sequences[0].input_ids as number[];
  const g = new Graph();
  const idsV = g.input('input_ids', 'int64', [1, ids.length]);
  const { weights, params } = bindWeights(g, ckpt, new Set(ckpt.tensors.keys()));
  const { logits } = qwen3Forward(ckpt.config, weights, {
    ids: idsV, positions: defaultPositions(idsV), keyMask: op.cast(op.expand(g.constant('bool', [], [1]), [1, ids.length]), 'bool'), maxPosition: ids.length,
  });
  const loss = op.neg(op.reduceSum(tokenLogprobs(logits, idsV), [0, 1]));
  g.output(loss, 'loss');
  const names = [...params.keys()];
  gradients(loss, names.map((n) => params.get(n)!)).forEach((gv, i) => g.output(gv, `grad.${names[i]}`));
  const session = await Session.create(g.toBytes(), { externalDataDir: ckpt.dir });
  const feeds = Object.fromEntries(names.map((n) => [n, { dtype: 'float32' as const, shape: ckpt.tensors.get(n)!.shape, data: toFloat32(readTensor(ckpt.tensors.get(n)!)) }]));
  const out = await session.run({ input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) }, ...feeds });
  t.true(Math.abs(Number(out.loss.data[0]) - expected.loss.L) < 1e-3, `loss ${out.loss.data[0]} vs ${expected.loss.L}`);
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
    t.true(worst <= 1, `${n}: element ${at} autodiff ${got[at]} vs reference ${want[at]} (first values ${[...got.slice(0, 3)]} vs ${[...want.slice(0, 3)]})`);
  }
  await session.release();
});
