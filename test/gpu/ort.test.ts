import test from 'ava';
import { Graph } from '../../node/gpu/graph.ts';
import * as op from '../../node/gpu/ops.ts';
import { SessionError } from '../../node/gpu/errors.ts';
import { CUDA_INSTALL_HINT, Session, SessionCache, cudaAvailable, pinnedBytes } from '../../node/gpu/ort.ts';

function doubler(): Uint8Array {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  g.output(op.mul(x, g.scalar('float32', 2)), 'y');
  return g.toBytes();
}

function adderGraph(): Uint8Array {
  const g = new Graph();
  g.output(op.add(g.input('a', 'float32', [3]), g.input('b', 'float32', [3])), 'y');
  return g.toBytes();
}

test('outputs can be written into caller-owned buffers', async (t) => {
  const s = await Session.create(doubler(), { threads: 1 });
  const into = new Float32Array(3);
  const out = await s.run(
    { x: { dtype: 'float32', shape: [3], data: Float32Array.of(1, 2, 3) } },
    { y: { dtype: 'float32', shape: [3], data: into } },
  );
  t.deepEqual([...into], [2, 4, 6]);
  t.is(out.y.data, into);
  await s.release();
});

test('asking for CUDA without its binaries says how to install them', async (t) => {
  if (cudaAvailable()) {
    const s = await Session.create(doubler(), { device: 'cuda' });
    t.is(s.device, 'cuda');
    return;
  }
  const err = await t.throwsAsync(Session.create(doubler(), { device: 'cuda' }), { name: 'DeviceError' });
  t.is(err!.message, CUDA_INSTALL_HINT);
  t.regex(err!.message, /ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install/);
});

test('a malformed model is a SessionError, not a crash', async (t) => {
  await t.throwsAsync(Session.create(Uint8Array.of(1, 2, 3, 4)), { name: 'SessionError' });
});

/** A graph that keeps its thread busy: `n` chained 256x256 MatMuls. */
function busy(n: number): Uint8Array {
  const g = new Graph();
  let x = g.input('x', 'float32', [256, 256]);
  for (let i = 0; i < n; i++) x = op.sigmoid(op.matmul(x, x));
  g.output(x, 'y');
  return g.toBytes();
}

test('a session on the session worker gives what it gives here, fills caller-owned buffers, and leaves this thread free', async (t) => {
  const cache = new SessionCache({ threads: 1, inWorker: true });
  const here = await Session.create(doubler(), { threads: 1 });
  const there = await cache.get('doubler', doubler);
  t.false(there instanceof Session);
  const into = new Float32Array(3);
  const out = await there.run(
    { x: { dtype: 'float32', shape: [3], data: Float32Array.of(1, 2, 3) } },
    { y: { dtype: 'float32', shape: [3], data: into } },
  );
  t.is(out.y.data, into);
  t.deepEqual(
    [...into],
    [...(await here.run({ x: { dtype: 'float32', shape: [3], data: Float32Array.of(1, 2, 3) } })).y.data],
  );

  // While a long run goes on over there, timers here keep firing.
  const heavy = await cache.get('busy', () => busy(400));
  const x = Float32Array.from({ length: 256 * 256 }, (_, i) => ((i % 7) - 3) / 50);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t0 = performance.now();
  await heavy.run({ x: { dtype: 'float32', shape: [256, 256], data: x } });
  const ms = performance.now() - t0;
  clearInterval(timer);
  t.log(`a ${ms.toFixed(0)} ms run on the worker; ${ticks} 5-ms ticks here meanwhile`);
  t.true(ticks >= Math.floor(ms / 5 / 4), `only ${ticks} ticks in ${ms.toFixed(0)} ms`);
  await here.release();
  await cache.release();
});

test('a lent feed moves to the session worker and back: the same values in a new array over its memory, not a copy', async (t) => {
  const cache = new SessionCache({ threads: 1, inWorker: true });
  const there = await cache.get('doubler', doubler);
  const data = Float32Array.of(1, 2, 3);
  const x = { dtype: 'float32' as const, shape: [3], data, lend: true };
  t.deepEqual([...(await there.run({ x })).y.data], [2, 4, 6]);
  t.is(data.byteLength, 0, 'the array given was moved (detached), not copied');
  t.deepEqual([...x.data], [1, 2, 3], 'the feed holds it again');
  x.data[0] = 10; // written between runs, as a KV cache is
  t.deepEqual([...(await there.run({ x })).y.data], [20, 4, 6]);

  // A view moves its whole buffer and comes back as the same view of it.
  const whole = new Float32Array(8).fill(1);
  const view = { dtype: 'float32' as const, shape: [3], data: whole.subarray(2, 5).fill(5), lend: true };
  t.deepEqual([...(await there.run({ x: view })).y.data], [10, 10, 10]);
  t.is(whole.byteLength, 0, 'the whole buffer moved');
  t.is(view.data.byteOffset, 8);
  t.deepEqual([...new Float32Array(view.data.buffer)], [1, 1, 5, 5, 5, 1, 1, 1]);

  // A lent output is written over there, in the caller's memory, and moves back.
  const y = { dtype: 'float32' as const, shape: [3], data: new Float32Array(3), lend: true };
  const out = await there.run({ x }, { y });
  t.is(out.y, y);
  t.deepEqual([...y.data], [20, 4, 6]);

  // A failing run (a feed of the wrong size) still hands every lent buffer back.
  const bad = { dtype: 'float32' as const, shape: [4], data: Float32Array.of(1, 2, 3, 4), lend: true };
  await t.throwsAsync(there.run({ x: bad }, { y }), { instanceOf: SessionError });
  t.deepEqual([...bad.data], [1, 2, 3, 4]);
  t.is(y.data.length, 3);
  await cache.release();
});

test('a pinned feed crosses to the session worker once per version: later runs refer to the copy there', async (t) => {
  const cache = new SessionCache({ threads: 1, inWorker: true });
  const there = await cache.get('doubler', doubler);
  const owner = {};
  const weights = Float32Array.of(1, 2, 3);
  const x = { dtype: 'float32' as const, shape: [3], data: weights, pin: { owner, version: 0 } };
  const held = pinnedBytes;
  const before = await held();
  t.deepEqual([...(await there.run({ x })).y.data], [2, 4, 6]);
  t.is(await held(), before + 12, 'the worker keeps a copy');
  weights[0] = 7; // changed here without a new version: the worker's copy is used
  t.deepEqual([...(await there.run({ x })).y.data], [2, 4, 6]);
  x.pin.version = 1; // a new version crosses again, and replaces the old one there
  t.deepEqual([...(await there.run({ x })).y.data], [14, 4, 6]);
  t.is(await held(), before + 12);
  // Two views of one buffer in a run: it crosses once.
  const group = Float32Array.of(1, 2, 3, 4, 5, 6);
  const pin = { owner, version: 2 };
  const [a, b] = [group.subarray(0, 3), group.subarray(3)].map((data) => ({
    dtype: 'float32' as const,
    shape: [3],
    data,
    pin,
  }));
  const adder = await cache.get('adder', adderGraph);
  t.deepEqual([...(await adder.run({ a, b })).y.data], [5, 7, 9]);
  t.is(await held(), before + 24);

  // Runs in flight across a version change: what the older one sent does not count for the newer.
  const other = {};
  const [u, w] = [Float32Array.of(1, 1, 1), Float32Array.of(2, 2, 2)];
  const older = there.run({ x: { dtype: 'float32', shape: [3], data: u, pin: { owner: other, version: 0 } } });
  const newer = there.run({ x: { dtype: 'float32', shape: [3], data: w, pin: { owner: other, version: 1 } } });
  t.deepEqual([...(await older).y.data, ...(await newer).y.data], [2, 2, 2, 4, 4, 4]);
  t.deepEqual(
    [...(await there.run({ x: { dtype: 'float32', shape: [3], data: u, pin: { owner: other, version: 1 } } })).y.data],
    [2, 2, 2],
  );
  await cache.release();
});

// Serial: a test running beside it would move the count of array buffers it reads.
test.serial(
  "onnxruntime-node's copies of large caller-owned outputs are collected at once, not left to pile up",
  async (t) => {
    const n = 1 << 26; // 256 MiB of float32, the size at which a run collects
    const g = new Graph();
    g.output(op.mul(g.input('x', 'float32', [n]), g.scalar('float32', 2)), 'y');
    const s = await Session.create(g.toBytes(), { threads: 1 });
    const x = { dtype: 'float32' as const, shape: [n], data: new Float32Array(n).fill(1) };
    const y = { dtype: 'float32' as const, shape: [n], data: new Float32Array(n) };
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 5; i++) await s.run({ x }, { y });
    t.is(y.data[n - 1], 2);
    // The last run's copy may still be held when its collection runs; five uncollected ones would be 1.25 GiB.
    const held = process.memoryUsage().arrayBuffers - before;
    t.true(held < 2 * n * 4, `no more than one copy of the output at a time: ${(held / 2 ** 20).toFixed(0)} MiB held`);
    await s.release();
  },
);
