// A checkpoint's frozen weights run as graph constants when small and as file-fed inputs when large: both placements
// compute the same model. The reference checkpoint is run both ways by lowering the constant limit.
import fs from 'node:fs';
import test from 'ava';
import { loadCheckpoint } from '../../../node/agent/model/checkpoint.ts';
import { Generator } from '../../../node/agent/model/generate.ts';
import { Scorer, padBatch } from '../../../node/agent/model/score.ts';
import { frozenInputs, weightPlacement } from '../../../node/agent/model/weights.ts';
import { sftLoss } from '../../../node/agent/train/losses.ts';
import { Trainer } from '../../../node/agent/train/trainer.ts';

const DIR = new URL('../../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const expected = JSON.parse(fs.readFileSync(`${DIR}expected.json`, 'utf8'));
const ckpt = loadCheckpoint(DIR);
const CONSTANTS = weightPlacement.constantBytes;

/** Runs `fn` with every frozen weight fed from the checkpoint's files, as a large checkpoint's are. */
async function fileFed<T>(fn: () => Promise<T>): Promise<T> {
  weightPlacement.constantBytes = 0;
  try {
    return await fn();
  } finally {
    weightPlacement.constantBytes = CONSTANTS;
  }
}

test.serial('the tiny checkpoint runs as constants; with the limit lowered every tensor is a file input', (t) => {
  t.deepEqual(frozenInputs(ckpt), {});
  const fed = weightPlacement.constantBytes;
  weightPlacement.constantBytes = 0;
  t.deepEqual(Object.keys(frozenInputs(ckpt)).sort(), [...ckpt.tensors.keys()].sort());
  weightPlacement.constantBytes = fed;
});

test.serial('file-fed weights decode the reference greedy continuation, with its log-probs within 1e-4', async (t) => {
  const { prompt_ids: prompt, new_tokens: want, step_logprobs: lps } = expected.greedy;
  const out = await fileFed(async () => {
    const gen = new Generator(ckpt, { threads: 1 });
    const [row] = await gen.generate([prompt], { maxNewTokens: want.length });
    await gen.release();
    return row;
  });
  t.deepEqual(out.tokens, want);
  out.logprobs.forEach((lp, i) => t.true(Math.abs(lp - lps[i]) < 1e-4, `step ${i}: ${lp} vs ${lps[i]}`));
});

test.serial('file-fed weights score as constants do (1e-5)', async (t) => {
  const rows = expected.sequences.map((s: { input_ids: number[] }) => s.input_ids);
  const score = async () => {
    const scorer = new Scorer(ckpt, { threads: 1 });
    const { tokenLogprobs } = await scorer.score(rows);
    await scorer.release();
    return tokenLogprobs;
  };
  const [asConstants, fed] = [await score(), await fileFed(score)];
  fed.forEach((row, r) => {
    const worst = row.reduce((m, lp, i) => Math.max(m, Math.abs(lp - asConstants[r][i])), 0);
    t.true(worst < 1e-5, `row ${r}: ${worst}`);
  });
});

test.serial('a LoRA step over file-fed weights moves the adapters as it does over constants (1e-5)', async (t) => {
  const lora = { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'up_proj', 'down_proj'] };
  const rows = [0, 17, 33].map((s) => Array.from({ length: 10 }, (_, i) => 3 + ((s + i) % 100)));
  const { ids, mask, seq } = padBatch(rows);
  const lossMask = { dtype: 'float32' as const, shape: [3, seq - 1], data: new Float32Array(3 * (seq - 1)).fill(1) };
  const step = async () => {
    const trainer = Trainer.create(ckpt, {
      loss: sftLoss,
      trainable: { kind: 'lora', lora },
      optimizer: { lr: 1e-2 },
      session: { threads: 1 },
      seed: 3,
    });
    await trainer.trainStep({ batch: 3, seq, inputIds: ids, attentionMask: mask, extra: { loss_mask: lossMask } });
    const params = new Map([...trainer.parameters].map(([n, p]) => [n, Float32Array.from(p)]));
    await trainer.release();
    return params;
  };
  const [asConstants, fed] = [await step(), await fileFed(step)];
  t.is(fed.size, asConstants.size);
  for (const [name, data] of fed) {
    const want = asConstants.get(name)!;
    const worst = data.reduce((m, x, i) => Math.max(m, Math.abs(x - want[i])), 0);
    t.true(worst < 1e-5, `${name}: ${worst}`);
  }
});
