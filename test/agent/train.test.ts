// Training on the reference checkpoint: SFT loss falls (full and LoRA), backtracking restores exactly,
// trainable state round-trips through safetensors, and the trained weights reach scoring.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../../node/agent/checkpoint.ts';
import { sftLoss } from '../../node/agent/losses.ts';
import { Scorer, padBatch } from '../../node/agent/score.ts';
import { type TrainBatch, Trainer } from '../../node/agent/train.ts';

const DIR = new URL('../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const ckpt = loadCheckpoint(DIR);

/** A synthetic task: every row counts upward from its own start token. */
function countingBatch(starts: number[], len: number): TrainBatch {
  const rows = starts.map((s) => Array.from({ length: len }, (_, i) => 3 + ((s + i) % 100)));
  const { ids, mask, seq } = padBatch(rows);
  return {
    batch: rows.length, seq, inputIds: ids, attentionMask: mask,
    extra: { loss_mask: { dtype: 'float32', shape: [rows.length, seq - 1], data: new Float32Array(rows.length * (seq - 1)).fill(1) } },
  };
}

const batch = countingBatch([0, 17, 33, 50], 12);

test('full fine-tuning: SFT loss falls on a small synthetic set', async (t) => {
  const trainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 3e-3, weightDecay: 0 }, session: { threads: 1 } });
  const first = await trainer.trainStep(batch);
  let last = first;
  for (let i = 0; i < 24; i++) last = await trainer.trainStep(batch);
  t.true(first.loss > 5, `the untrained model is near uniform (loss ${first.loss})`);
  t.true(last.loss < first.loss * 0.5, `loss fell from ${first.loss} to ${last.loss}`);
  t.true(first.gradNorm > 0);
  t.is(last.step, 25);
  await trainer.release();
});

test('LoRA trains only the adapters and its loss falls', async (t) => {
  const lora = { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'up_proj', 'down_proj'] };
  const trainer = Trainer.create(ckpt, { loss: sftLoss, trainable: { kind: 'lora', lora }, optimizer: { lr: 1e-2, weightDecay: 0 }, session: { threads: 1 } });
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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sat-train-'));
  const lora = { rank: 2, alpha: 4, targets: ['q_proj'] };
  const a = Trainer.create(ckpt, { loss: sftLoss, trainable: { kind: 'lora', lora }, session: { threads: 1 } });
  await a.trainStep(batch);
  a.save(path.join(dir, 'adapter.safetensors'));
  const b = Trainer.create(ckpt, { loss: sftLoss, trainable: { kind: 'lora', lora }, seed: 99, session: { threads: 1 } });
  b.load(path.join(dir, 'adapter.safetensors'));
  for (const [name, x] of a.parameters) t.deepEqual([...b.parameters.get(name)!], [...x], name);
  t.is(b.step, 1);
  t.deepEqual(fs.readdirSync(dir), ['adapter.safetensors']);
  const next = [await a.trainStep(batch), await b.trainStep(batch)];
  t.is(next[0].loss, next[1].loss);
  await a.release();
  await b.release();
});

test('a scorer over the trainer\'s parameters sees the trained model', async (t) => {
  const trainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 3e-3, weightDecay: 0 }, session: { threads: 1 } });
  const row = Array.from({ length: 12 }, (_, i) => 3 + i);
  const scorer = new Scorer(ckpt, { threads: 1 }, trainer.paramSource());
  const before = (await scorer.score([row])).tokenLogprobs[0].reduce((a, b) => a + b, 0);
  for (let i = 0; i < 10; i++) await trainer.trainStep(batch);
  const after = (await scorer.score([row])).tokenLogprobs[0].reduce((a, b) => a + b, 0);
  t.true(after > before + 1, `log-likelihood of a counting row rose from ${before} to ${after}`);
  await scorer.release();
  await trainer.release();
});
