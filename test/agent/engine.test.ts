// The engine behind its compute worker: results equal in-process ones, errors keep their names, and
// the main thread's event loop keeps ticking through a training step that takes seconds.
import test from 'ava';
import fs from 'node:fs';
import { Engine } from '../../node/agent/engine.ts';
import { padBatch } from '../../node/agent/score.ts';
import { BENCH_CONFIG, writeSyntheticCheckpoint } from '../../node/agent/synthetic.ts';
import { tempDir } from '../temp-dir.ts';

const FIXTURE = new URL('../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const expected = JSON.parse(fs.readFileSync(`${FIXTURE}expected.json`, 'utf8'));

test('scoring and greedy generation through the worker match the reference', async (t) => {
  const engine = await Engine.open(FIXTURE, { threads: 1 });
  t.is(engine.config.vocabSize, 512);
  const seq = expected.sequences[0];
  const { tokenLogprobs: [lp] } = await engine.score([seq.input_ids]);
  lp.forEach((x, i) => t.true(Math.abs(x - seq.next_token_logprobs[i]) < 1e-4));
  const [gen] = await engine.generate([expected.greedy.prompt_ids], { maxNewTokens: 8 });
  t.deepEqual(gen.tokens, expected.greedy.new_tokens);
  await t.throwsAsync(engine.score([[1, 100000]]), { name: 'InputError' });
  await t.throwsAsync(engine.trainStep({ batch: 1, seq: 2, inputIds: BigInt64Array.of(1n, 2n), attentionMask: BigInt64Array.of(1n, 1n) }), { name: 'InputError', message: /train\(\)/ });
  await engine.close();
});

test('the main thread keeps ticking every 10 ms while a multi-second training step runs', async (t) => {
  const dir = tempDir('sat-engine-');
  writeSyntheticCheckpoint(dir, BENCH_CONFIG);
  const engine = await Engine.open(dir, { threads: 2 });
  await engine.train({ loss: 'sft' });
  const [b, s] = [16, 256];
  const rows = Array.from({ length: b }, (_, r) => Array.from({ length: s }, (_, i) => 3 + ((r * 31 + i * 7) % 4000)));
  const { ids, mask } = padBatch(rows);
  let last = performance.now();
  let worstGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  const t0 = performance.now();
  // The first step also builds the graph and the session: all of it runs on the worker.
  const result = await engine.trainStep({
    batch: b, seq: s, inputIds: ids, attentionMask: mask,
    extra: { loss_mask: { dtype: 'float32', shape: [b, s - 1], data: new Float32Array(b * (s - 1)).fill(1) } },
  });
  const took = performance.now() - t0;
  clearInterval(timer);
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
  t.true(Number.isFinite(result.loss));
  t.true(took >= 1000, `the step took ${took.toFixed(0)} ms, too short to prove anything`);
  t.true(worstGap < 50, `the event loop stalled for ${worstGap.toFixed(0)} ms during a ${took.toFixed(0)} ms step`);
  t.log(`step ${took.toFixed(0)} ms, worst tick gap ${worstGap.toFixed(1)} ms`);
});
