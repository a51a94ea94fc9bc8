import path from 'node:path';
import test from 'ava';
import { fileTensorBytes } from '../../node/gpu/file-tensors.ts';
import { Graph } from '../../node/gpu/graph.ts';
import * as op from '../../node/gpu/ops.ts';
import { Session, SessionCache } from '../../node/gpu/ort.ts';
import { readSafetensorsHeader, writeSafetensors } from '../../node/gpu/safetensors.ts';
import { tempDir } from '../temp-dir.ts';

/** A bfloat16 tensor w = [1, 2, 3] (exact in bf16) in a safetensors file. */
function weightFile() {
  const file = path.join(tempDir('file-tensors-'), 'w.safetensors');
  const bits = Uint16Array.from(
    new Float32Array([1, 2, 3]),
    (x) => new Uint32Array(Float32Array.of(x).buffer)[0] >>> 16,
  );
  writeSafetensors(file, { w: { dtype: 'bfloat16', shape: [3], data: bits } });
  return readSafetensorsHeader(file).get('w')!;
}

/** y = x * w (w an input the session feeds itself), scaled by `k` so that graphs differ. */
function scaledProduct(k: number): Uint8Array {
  const g = new Graph();
  const y = op.mul(g.input('x', 'float32', [3]), g.input('w', 'float32', [3]));
  g.output(op.mul(y, g.scalar('float32', k)), 'y');
  return g.toBytes();
}

const x = { dtype: 'float32' as const, shape: [3], data: Float32Array.of(1, 1, 2) };

test.serial(
  'a session feeds itself the file inputs it names, as float32, and lists only the others as its inputs',
  async (t) => {
    const s = await Session.create(scaledProduct(1), { threads: 1, fileInputs: { w: weightFile() } });
    t.deepEqual([...s.inputNames], ['x']);
    t.deepEqual([...((await s.run({ x })).y.data as Float32Array)], [1, 2, 6]);
    await s.release();
  },
);

test.serial(
  'sessions that name the same file tensor share one copy, dropped when the last of them is released',
  async (t) => {
    const w = weightFile();
    const before = fileTensorBytes();
    const a = await Session.create(scaledProduct(1), { threads: 1, fileInputs: { w } });
    const b = await Session.create(scaledProduct(2), { threads: 1, fileInputs: { w } });
    t.is(fileTensorBytes() - before, 12, 'one float32 copy of w for both sessions');
    t.deepEqual([...((await b.run({ x })).y.data as Float32Array)], [2, 4, 12]);
    await a.release();
    t.is(fileTensorBytes() - before, 12, 'still held by the other session');
    await b.release();
    t.is(fileTensorBytes(), before);
  },
);

test.serial('on the session worker the file inputs are read there, and the results are the same', async (t) => {
  const cache = new SessionCache({ threads: 1, inWorker: true, fileInputs: { w: weightFile() } });
  const s = await cache.get('product', () => scaledProduct(1));
  t.deepEqual([...s.inputNames], ['x']);
  t.deepEqual([...((await s.run({ x })).y.data as Float32Array)], [1, 2, 6]);
  t.is(fileTensorBytes(), 0, 'this thread holds nothing');
  await cache.release();
});

test.serial(
  'a session cache holds its file inputs from load to release, across sessions dropped and built again',
  async (t) => {
    const w = weightFile();
    const cache = new SessionCache({ threads: 1, fileInputs: { w } });
    const seen: [number, number][] = [];
    await cache.load((done, total) => seen.push([done, total]));
    t.deepEqual(seen, [[w.length, w.length]]);
    t.is(fileTensorBytes(), 12);
    await cache.get('product', () => scaledProduct(1));
    await cache.drop('product');
    t.is(fileTensorBytes(), 12, 'kept while no session is built');
    await cache.release();
    t.is(fileTensorBytes(), 0);
  },
);
