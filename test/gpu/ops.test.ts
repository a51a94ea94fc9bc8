// Op helpers whose shape rules are ours to get right (most are covered through autodiff's tests).
import test from 'ava';
import { GraphError } from '../../node/gpu/errors.ts';
import { Graph } from '../../node/gpu/graph.ts';
import * as op from '../../node/gpu/ops.ts';
import { Session } from '../../node/gpu/ort.ts';

test('scatterND writes each update slice whole at its leading coordinates (a KV-cache write), or adds it', async (t) => {
  // cache [rows 2, heads 1, slots 3, d 2]; row 0 writes slot 2, row 1 slot 0.
  const g = new Graph('scatter');
  const cache = g.input('cache', 'float32', [2, 1, 3, 2]);
  const at = g.input('at', 'int64', [2, 1, 3]);
  const now = g.input('now', 'float32', [2, 1, 2]);
  g.output(op.scatterND(cache, at, now), 'written');
  g.output(op.scatterNDAdd(cache, at, now), 'added');
  const s = await Session.create(g.toBytes(), { threads: 1 });
  const out = await s.run({
    cache: { dtype: 'float32', shape: [2, 1, 3, 2], data: Float32Array.from({ length: 12 }, (_, i) => i) },
    at: { dtype: 'int64', shape: [2, 1, 3], data: BigInt64Array.of(0n, 0n, 2n, 1n, 0n, 0n) },
    now: { dtype: 'float32', shape: [2, 1, 2], data: Float32Array.of(100, 101, 200, 201) },
  });
  t.deepEqual([...out.written.data], [0, 1, 2, 3, 100, 101, 200, 201, 8, 9, 10, 11]);
  t.deepEqual([...out.added.data], [0, 1, 2, 3, 104, 106, 206, 208, 8, 9, 10, 11]);
  await s.release();
});

test('scatterND refuses updates whose shape does not match the slices its indices address', (t) => {
  const g = new Graph('bad');
  const cache = g.input('cache', 'float32', [2, 1, 3, 2]);
  const at = g.input('at', 'int64', [2, 1, 3]);
  const err = t.throws(() => op.scatterND(cache, at, g.input('now', 'float32', [2, 2])), { instanceOf: GraphError });
  t.regex(err!.message, /ScatterND: updates \[2,2\] should be \[2,1,2\]/);
});
