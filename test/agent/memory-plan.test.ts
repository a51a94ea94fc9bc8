// The memory estimate a peer checks before it joins: what it counts grows with what drives it, LoRA
// drops the optimizer, and a need beyond what is available is one line that says what to change.
import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../../node/agent/model/checkpoint.ts';
import { checkMemory, memoryNeed, microBatchFor } from '../../node/agent/memory-plan.ts';
import { availableMemory } from '../../node/gpu/device-memory.ts';
import { ROOT } from '../cli/run-cli.ts';

const ckpt = loadCheckpoint(path.join(ROOT, 'models/demo/tiny-weak'));

test('the estimate counts weights, the optimizer (full fine-tuning only) and activations that grow with the batch', (t) => {
  const full = memoryNeed(ckpt, { lora: false, rows: 512, tokens: 90 });
  const lora = memoryNeed(ckpt, { lora: true, rows: 512, tokens: 90 });
  t.true(
    full.weights > 0 && full.optimizer === 7 * full.weights,
    "gradients, two moments, a spare copy of parameters and moments, and the session worker's copy of the parameters",
  );
  t.is(lora.optimizer, 0);
  t.is(full.total, full.weights + full.optimizer + full.activations + full.runtime);
  const twice = memoryNeed(ckpt, { lora: false, rows: 1024, tokens: 90 });
  t.true(Math.abs(twice.activations / full.activations - 2) < 1e-9);
  t.true(
    memoryNeed(ckpt, { lora: false, rows: 512, tokens: 180 }).activations > 2 * full.activations,
    'attention grows with the square of the length',
  );
  // `npm run bench:memory` measured a LoRA step of this agent at 512 rows x 96 tokens (24 its own) at 1.13 GiB, and
  // the plan is fit to real-size steps within 7% above: the estimate is of that size, a little above.
  const step = memoryNeed(ckpt, { lora: true, rows: 512, tokens: 96, own: 24 }).total / 2 ** 30;
  t.true(step > 1.13 && step < 1.13 * 1.15, `${step.toFixed(2)} GiB`);
  // The head runs at the agent's own tokens only: its logits count there, the layers everywhere.
  const saved = (own: number) =>
    full.activations - memoryNeed(ckpt, { lora: false, rows: 512, tokens: 90, own }).activations;
  t.true(saved(24) > 0);
  t.true(
    Math.abs(saved(24) / saved(57) - 2) < 1e-9,
    "the saving is the head's at the 66 (or 33) tokens that are not the agent's",
  );
  t.is(memoryNeed(ckpt, { lora: false, rows: 512, tokens: 90, own: 200 }).activations, full.activations);
});

test("a newcomer entering through Stage-0 holds the incumbent's weights beside its own, and says so when they do not fit", (t) => {
  const strong = loadCheckpoint(path.join(ROOT, 'models/demo/tiny-strong'));
  const alone = memoryNeed(strong, { lora: true, rows: 8, tokens: 90 });
  const beside = memoryNeed(strong, { lora: true, rows: 8, tokens: 90, incumbent: ckpt });
  t.is(beside.weights - alone.weights, memoryNeed(ckpt, { lora: true, rows: 8, tokens: 90 }).weights);
  t.is(beside.total - alone.total, beside.weights - alone.weights);
  const o = { model: 'tiny-strong', lora: true, rows: 8, tokens: 90, given: true, incumbent: ckpt };
  const err = t.throws(() => checkMemory(beside, beside.total - 1, o));
  t.regex(err.message, /weights [\d.]+ GiB with the incumbent's it enters beside/);
});

test("available memory is some of this machine's; a need beyond it is refused with what to change", (t) => {
  const available = availableMemory();
  t.true(available > 0 && available <= os.totalmem());
  const need = memoryNeed(ckpt, { lora: false, rows: 512, tokens: 90 });
  t.notThrows(() => checkMemory(need, need.total, { model: 'tiny-weak', lora: false, rows: 512, tokens: 90 }));
  const err = t.throws(() =>
    checkMemory(need, need.total / 2, { model: 'tiny-weak', lora: false, rows: 512, tokens: 90 }),
  );
  t.is(err?.name, 'DeviceError');
  t.regex(
    err!.message,
    /^tiny-weak needs about [\d.]+ GiB .*activations of 512 rollouts x 90 tokens .*: join a team with a smaller batch/,
  );
  t.regex(
    t.throws(() =>
      checkMemory(need, need.total / 2, { model: 'tiny-weak', lora: false, rows: 512, tokens: 90, gpu: true }),
    )!.message,
    /on the GPU .*and the GPU has/,
  );
  // A model whose weights dominate: a smaller model, or LoRA.
  const heavy = { ...need, weights: 100 * 2 ** 30, total: need.total + 100 * 2 ** 30 };
  t.regex(
    t.throws(() => checkMemory(heavy, need.total, { model: 'big', lora: false, rows: 512, tokens: 90 }))!.message,
    /use a smaller model \(this team fine-tunes every weight; one that trains LoRA adapters needs far less\)/,
  );
});

test('the micro-batch is the most rollouts whose activations fit: all of them, some, or a refusal when not one does', (t) => {
  const o = { model: 'tiny-weak', lora: false, rows: 512, tokens: 90 };
  const need = (rows: number) => memoryNeed(ckpt, { ...o, rows }).total;
  t.is(microBatchFor(ckpt, o, need(512)), 512);
  t.is(microBatchFor(ckpt, o, need(100)), 100);
  t.is(microBatchFor(ckpt, o, need(100) + 1), 100);
  t.is(microBatchFor(ckpt, o, need(101) - 1), 100);
  t.is(microBatchFor(ckpt, o, need(1)), 1);
  t.throws(() => microBatchFor(ckpt, o, need(1) - 1), { name: 'DeviceError', message: /activations of 1 rollouts/ });
});
