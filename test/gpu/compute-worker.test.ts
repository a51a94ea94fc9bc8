import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ComputeWorker } from '../../node/gpu/compute-worker.ts';

const HANDLERS = new URL('./fixtures/handlers.ts', import.meta.url);
type Fixtures = typeof import('./fixtures/handlers.ts');
/** The same worker, its calls unchecked: to send what the types refuse (an unknown handler, a function). */
const untyped = (w: ComputeWorker<Fixtures>) => w as unknown as ComputeWorker;

test('typed arrays move both ways by transfer and come back computed', async (t) => {
  const w = await ComputeWorker.start<Fixtures>(HANDLERS);
  const xs = Float32Array.of(1, 2, 3);
  const out = await w.call('doubleInPlace', [xs], [xs.buffer]);
  t.is(xs.byteLength, 0, "the sender's buffer was transferred, not copied");
  t.deepEqual([...out], [2, 4, 6]);
  await w.close();
});

test("a handler's error arrives with its name and message, and the worker keeps serving", async (t) => {
  const w = await ComputeWorker.start<Fixtures>(HANDLERS);
  await t.throwsAsync(w.call('failing', []), { name: 'ModelFormatError', message: 'config.json is not JSON' });
  await t.throwsAsync(untyped(w).call('nope', []), { message: /no handler 'nope'/ });
  t.deepEqual([...(await w.call('double', [Float32Array.of(4)]))], [8]);
  await w.close();
});

test('concurrent calls are served in order with their own results', async (t) => {
  const w = await ComputeWorker.start<Fixtures>(HANDLERS);
  const order: number[] = [];
  const calls = [30, 0, 10].map((ms, i) =>
    w.call('delayed', [i, ms]).then((v) => {
      order.push(v);
      return v;
    }),
  );
  t.deepEqual(await Promise.all(calls), [0, 1, 2]);
  t.deepEqual(order, [0, 1, 2]);
  await w.close();
});

test('a worker that dies rejects the pending call and every later one', async (t) => {
  const w = await ComputeWorker.start<Fixtures>(HANDLERS);
  await t.throwsAsync(w.call('exit', [3]), { name: 'WorkerCrashedError', message: /code 3/ });
  await t.throwsAsync(w.call('double', [Float32Array.of(1)]), { name: 'WorkerCrashedError' });
  await w.close();
});

test('closing rejects what is still pending', async (t) => {
  const w = await ComputeWorker.start<Fixtures>(HANDLERS);
  const pending = w.call('delayed', [1, 5000]);
  await w.close();
  await t.throwsAsync(pending, { name: 'WorkerCrashedError', message: /closed/ });
});

test('a process launched as plain node, registering tsx through its API like the bin, runs a worker', async (t) => {
  const script = new URL('./fixtures/plain-node.mjs', import.meta.url).pathname;
  // A clean process: no --import=tsx inherited through NODE_OPTIONS or execArgv.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const { stdout } = await promisify(execFile)(process.execPath, [script], { env, timeout: 60_000 });
  const seen = JSON.parse(stdout.trim().split('\n').pop()!);
  t.deepEqual(seen.execArgv, []);
  t.deepEqual(seen.doubled, [2, 4, 6]);
  t.deepEqual(seen.error, { name: 'ModelFormatError', message: 'config.json is not JSON' });
});

test('a result that cannot cross threads fails that call only', async (t) => {
  const w = await ComputeWorker.start<Fixtures>(HANDLERS);
  await t.throwsAsync(w.call('unsendable', []), { message: /cannot be sent back/ });
  await t.throwsAsync(untyped(w).call('double', [() => 1]), { name: 'DataCloneError' });
  t.deepEqual([...(await w.call('double', [Float32Array.of(2)]))], [4]);
  await w.close();
});
