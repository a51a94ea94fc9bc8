// The compute worker (node/gpu/compute-worker.ts) against the acceptance test of its issue: a real,
// multi-second onnxruntime run in the worker leaves the main thread's event loop ticking. Transfer,
// errors, crashes and concurrency are covered in compute-worker.test.ts.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ComputeWorker } from '../../node/gpu/compute-worker.ts';

const MATMUL_CHAIN = new URL('./fixtures/matmul-chain.ts', import.meta.url);
const N = 1024;

test('a multi-second onnxruntime run in the worker leaves the 10 ms main-thread timer ticking', async (t) => {
  const worker = await ComputeWorker.start(MATMUL_CHAIN, { name: 'matmul-chain' });
  t.teardown(() => worker.close());
  // Aim at 3 s: twice the bar, so a probe slowed by other test files still clears it.
  const depth = await worker.call<number>('open', [3, 2]);
  const x = new Float32Array(N * N).map((_, i) => (i % 97) - 48);
  const expected = x.slice();

  let last = performance.now();
  let worstGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
    ticks++;
  }, 10);
  const t0 = performance.now();
  const { y, runMs } = await worker.call<{ y: Float32Array; runMs: number }>('run', [x], [x.buffer]);
  const took = performance.now() - t0;
  clearInterval(timer);
  worstGap = Math.max(worstGap, performance.now() - last);

  t.log(`depth ${depth}: call ${took.toFixed(0)} ms (one session.run ${runMs.toFixed(0)} ms), ${ticks} ticks, worst gap ${worstGap.toFixed(1)} ms`);
  t.is(x.byteLength, 0, 'the input moved to the worker');
  t.true(runMs >= 1500, `the single session.run took ${runMs.toFixed(0)} ms, too short to prove the loop was free`);
  t.true(took >= runMs);
  t.true(worstGap < 100, `the event loop stalled for ${worstGap.toFixed(0)} ms during a ${took.toFixed(0)} ms call`);
  t.true(ticks >= took / 10 / 2, `only ${ticks} ticks in ${took.toFixed(0)} ms`);
  // The chain multiplies by the identity: the worker's result is the input, exactly.
  t.is(y.length, N * N);
  t.true(y.every((v, i) => v === expected[i]), 'the chain of identity MatMuls changed the data');
});

test('a process launched as plain node, registering tsx through its API, runs a worker', async (t) => {
  const script = new URL('./fixtures/plain-node.mjs', import.meta.url).pathname;
  // A clean environment: no --import=tsx inherited through NODE_OPTIONS or execArgv.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const { stdout } = await promisify(execFile)(process.execPath, [script], { env, timeout: 60_000 });
  const seen = JSON.parse(stdout.trim().split('\n').pop()!);
  t.deepEqual(seen.execArgv, []);
  t.deepEqual(seen.doubled, [2, 4, 6]);
  t.deepEqual(seen.error, { name: 'ModelFormatError', message: 'config.json is not JSON' });
});
