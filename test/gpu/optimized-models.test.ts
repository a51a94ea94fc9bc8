import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Graph } from '../../node/gpu/graph.ts';
import * as op from '../../node/gpu/ops.ts';
import { defaultOptimizedDir } from '../../node/gpu/optimized-models.ts';
import { Session } from '../../node/gpu/ort.ts';
import { tempDir } from '../temp-dir.ts';

/** y = softmax(x W) with a constant W: something for onnxruntime to optimize. */
function model(k: number): Uint8Array {
  const g = new Graph();
  const w = g.constant('float32', [3, 2], [1, 2, 3, 4, 5, k]);
  g.output(op.softmax(op.matmul(g.input('x', 'float32', [1, 3]), w), -1), 'y');
  return g.toBytes();
}

const x = { x: { dtype: 'float32' as const, shape: [1, 3], data: Float32Array.of(0.1, 0.2, 0.3) } };

test('a graph is optimized once: its optimized form is saved, and a later build from it computes the same', async (t) => {
  const dir = tempDir('optimized-');
  const first = await Session.create(model(6), { threads: 1, optimizedDir: dir });
  const saved = fs.readdirSync(dir);
  t.is(saved.length, 1);
  t.regex(saved[0], /^[0-9a-f]{32}\.onnx$/);
  const again = await Session.create(model(6), { threads: 1, optimizedDir: dir });
  t.deepEqual(fs.readdirSync(dir), saved, 'built from the saved file, nothing new written');
  t.deepEqual((await again.run(x)).y.data, (await first.run(x)).y.data);
  await Session.create(model(7), { threads: 1, optimizedDir: dir });
  t.is(fs.readdirSync(dir).length, 2, 'another graph, another file');
});

test('a cache folder that cannot be written leaves sessions built as they are', async (t) => {
  const file = path.join(tempDir('optimized-file-'), 'not-a-folder');
  fs.writeFileSync(file, '');
  const s = await Session.create(model(6), { threads: 1, optimizedDir: path.join(file, 'optimized') });
  t.is((await s.run(x)).y.data.length, 2);
});

test('the cache lives under SAT_PEER_CACHE, else XDG_CACHE_HOME, else ~/.cache', (t) => {
  t.is(defaultOptimizedDir({ SAT_PEER_CACHE: '/c' }), '/c/optimized');
  t.is(defaultOptimizedDir({ XDG_CACHE_HOME: '/x' }), '/x/sat-peer/optimized');
  t.regex(defaultOptimizedDir({}), /\.cache\/sat-peer\/optimized$/);
});
