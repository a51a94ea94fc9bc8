// The graph builder's subgraphs: a Loop whose body reads a value of the enclosing graph by name,
// carries state, stacks a scan output and stops when its condition turns false.
import test from 'ava';
import { Graph } from '../../node/gpu/graph.ts';
import * as op from '../../node/gpu/ops.ts';
import { Session } from '../../node/gpu/ort.ts';

test(
  'a Loop runs its body over carried values, reads the enclosing ' +
    'graph, stacks its scan output and stops on its condition',
  async (t) => {
    const g = new Graph('outer');
    const step = g.input('step', 'float32', [2]);
    const start = g.input('start', 'float32', [2]);
    const limit = op.mul(g.input('limit', 'float32', []), g.scalar('float32', 1)); // computed out here, read in the body
    const body = g.subgraph('body');
    const iter = body.input('iter', 'int64', []);
    body.input('cond', 'bool', []);
    const acc = body.input('acc', 'float32', [2]);
    const next = op.add(acc, op.mul(body.outer(step), op.cast(iter, 'float32')));
    body.output(op.less(op.reduceMax(next, [0]), body.outer(limit)), 'cond_out');
    body.output(next, 'acc_out');
    body.output(op.identity(next), 'scan');
    const [last, stacked] = op.loop(g.scalar('int64', 10), g.constant('bool', [], [1]), [start], body, [
      { dtype: 'float32', shape: [10, 2] },
    ]);
    g.output(last, 'last');
    g.output(stacked, 'stacked');
    const s = await Session.create(g.toBytes(), { threads: 1 });
    const f = (...xs: number[]) => ({
      dtype: 'float32' as const,
      shape: xs.length === 1 ? [] : [xs.length],
      data: Float32Array.from(xs),
    });
    // acc after iteration i: start + step * (0 + 1 + ... + i); the iteration that reaches 30 is the last.
    const out = await s.run({ step: f(1, 2), start: f(0, 0), limit: f(30) });
    t.deepEqual(out.stacked.shape, [6, 2]);
    t.deepEqual([...out.stacked.data], [0, 0, 1, 2, 3, 6, 6, 12, 10, 20, 15, 30]);
    t.deepEqual([...out.last.data], [15, 30]);
    const long = await s.run({ step: f(1, 2), start: f(0, 0), limit: f(1e9) });
    t.deepEqual(long.stacked.shape, [10, 2], 'at most the trip count');
    await s.release();
  },
);
