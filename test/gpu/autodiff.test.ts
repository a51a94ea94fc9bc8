// Every gradient rule against central finite differences in float64, through real onnxruntime sessions.
import test from 'ava';
import { Graph, type Shape, type Value, numel } from '../../node/gpu/graph.ts';
import { gradients } from '../../node/gpu/autodiff.ts';
import { Session, type HostTensor } from '../../node/gpu/ort.ts';
import * as op from '../../node/gpu/ops.ts';
import { rng } from '../../node/agent/model/random.ts';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

interface Case {
  /** Shapes of the float64 inputs the gradient is checked for. */
  shapes: Shape[];
  build: (xs: Value[]) => Value;
  /** Input values: default uniform in [-1, 1]. */
  init?: (i: number, n: number, next: () => number) => number[];
  h?: number;
  tol?: number;
  /** float32 for ops onnxruntime has no float64 kernel for (then h and tol must be loose). */
  dtype?: 'float32';
}

async function checkGradients(t: import('ava').ExecutionContext, c: Case): Promise<void> {
  const next = rng(7);
  const g = new Graph();
  const dtype = c.dtype ?? 'float64';
  const xs = c.shapes.map((s, i) => g.input(`x${i}`, dtype, s));
  const y = c.build(xs);
  // A random weighting makes every output element matter (a plain sum hides e.g. softmax errors).
  const weights = Array.from({ length: numel(y.shape) }, next);
  const loss = op.reduceSum(op.mul(op.cast(y, 'float64'), g.constant('float64', y.shape, weights)), [
    ...y.shape.keys(),
  ]);
  g.output(loss, 'loss');
  gradients(loss, xs).forEach((gx, i) => g.output(gx, `grad${i}`));
  const session = await Session.create(g.toBytes());
  const values = c.shapes.map(
    (s, i) => c.init?.(i, numel(s), next) ?? Array.from({ length: numel(s) }, () => next() * 2 - 1),
  );
  const feeds = (vals: number[][]): Record<string, HostTensor> =>
    Object.fromEntries(
      vals.map((v, i) => [
        `x${i}`,
        dtype === 'float64'
          ? { dtype, shape: c.shapes[i], data: Float64Array.from(v) }
          : { dtype, shape: c.shapes[i], data: Float32Array.from(v) },
      ]),
    );
  const out = await session.run(feeds(values));
  const lossAt = async (vals: number[][]) => (await session.run(feeds(vals), {}, ['loss'])).loss.data[0] as number;
  const h = c.h ?? 1e-6;
  const tol = c.tol ?? 1e-6;
  for (let i = 0; i < values.length; i++) {
    const analytic = out[`grad${i}`].data as Float64Array | Float32Array;
    t.deepEqual([...out[`grad${i}`].shape], [...c.shapes[i]], `grad${i} shape`);
    for (let k = 0; k < values[i].length; k++) {
      const plus = values.map((v) => [...v]);
      const minus = values.map((v) => [...v]);
      plus[i][k] += h;
      minus[i][k] -= h;
      const fd = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
      const err = Math.abs(fd - analytic[k]);
      if (err > tol * (1 + Math.abs(fd))) {
        t.fail(`input ${i} element ${k}: finite difference ${fd}, autodiff ${analytic[k]}`);
        return;
      }
    }
  }
  await session.release();
  t.pass();
}

const positive = (_i: number, n: number, next: () => number) => Array.from({ length: n }, () => 0.5 + next());
// Values at least 0.05 apart, so no tie or kink lies within the finite-difference step.
const spread = (i: number, n: number, next: () => number) => {
  const vals = Array.from({ length: n }, (_, k) => (k - n / 2) * 0.1 + 0.013 + 0.03 * i);
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [vals[k], vals[j]] = [vals[j], vals[k]];
  }
  return vals;
};

const cases: Record<string, Case> = {
  MatMul: {
    shapes: [
      [2, 3, 4],
      [4, 5],
    ],
    build: ([a, b]) => op.matmul(a, b),
  },
  'MatMul batch-broadcast rhs': {
    shapes: [
      [3, 4],
      [2, 4, 2],
    ],
    build: ([a, b]) => op.matmul(a, b),
  },
  Gemm: {
    shapes: [
      [3, 4],
      [4, 2],
    ],
    build: ([a, b]) => op.gemm(a, b),
  },
  'Gemm transA': {
    shapes: [
      [4, 3],
      [4, 2],
    ],
    build: ([a, b]) => op.gemm(a, b, { transA: true }),
  },
  'Gemm transB': {
    shapes: [
      [3, 4],
      [2, 4],
    ],
    build: ([a, b]) => op.gemm(a, b, { transB: true }),
  },
  'Gemm transA transB': {
    shapes: [
      [4, 3],
      [2, 4],
    ],
    build: ([a, b]) => op.gemm(a, b, { transA: true, transB: true }),
  },
  'Add broadcast': { shapes: [[2, 3], [3]], build: ([a, b]) => op.add(a, b) },
  'Sub broadcast both': {
    shapes: [
      [2, 1],
      [1, 3],
    ],
    build: ([a, b]) => op.sub(a, b),
  },
  'Mul broadcast': {
    shapes: [
      [2, 3],
      [2, 1],
    ],
    build: ([a, b]) => op.mul(a, b),
  },
  Div: {
    shapes: [[2, 3], [3]],
    build: ([a, b]) => op.div(a, b),
    init: (i, n, next) => (i === 1 ? positive(i, n, next) : Array.from({ length: n }, next)),
  },
  Neg: { shapes: [[4]], build: ([a]) => op.neg(a) },
  Exp: { shapes: [[2, 3]], build: ([a]) => op.exp(a) },
  Log: { shapes: [[2, 3]], build: ([a]) => op.log(a), init: positive },
  Sqrt: { shapes: [[2, 3]], build: ([a]) => op.sqrt(a), init: positive },
  Reciprocal: { shapes: [[2, 3]], build: ([a]) => op.reciprocal(a), init: positive },
  Pow: { shapes: [[2, 3], [3]], build: ([a, p]) => op.pow(a, p), init: positive },
  'Pow constant exponent': { shapes: [[5]], build: ([a]) => op.pow(a, op.scalarLike(a, 2)) },
  Sigmoid: { shapes: [[2, 3]], build: ([a]) => op.sigmoid(a) },
  SiLU: { shapes: [[2, 3]], build: ([a]) => op.silu(a) },
  Abs: { shapes: [[6]], build: ([a]) => op.abs(a), init: spread },
  ReduceSum: { shapes: [[2, 3, 4]], build: ([a]) => op.reduceSum(a, [1]) },
  'ReduceSum keepdims': { shapes: [[2, 3, 4]], build: ([a]) => op.reduceSum(a, [0, 2], true) },
  ReduceMean: { shapes: [[2, 3, 4]], build: ([a]) => op.reduceMean(a, [-1], true) },
  ReduceMax: { shapes: [[3, 4]], build: ([a]) => op.reduceMax(a, [1]), init: spread },
  Softmax: { shapes: [[2, 5]], build: ([a]) => op.softmax(a, -1) },
  'Softmax axis 0': { shapes: [[3, 2]], build: ([a]) => op.softmax(a, 0) },
  LogSoftmax: { shapes: [[2, 5]], build: ([a]) => op.logSoftmax(a, -1) },
  'Gather (embedding)': {
    shapes: [[6, 3]],
    build: ([w]) => op.gather(w, w.graph.constant('int64', [2, 3], [1, 4, 1, 0, 5, 1]), 0),
  },
  'Gather axis 1': { shapes: [[2, 5, 3]], build: ([w]) => op.gather(w, w.graph.constant('int64', [2], [3, 3]), 1) },
  GatherElements: {
    shapes: [[2, 4]],
    build: ([x]) => op.gatherElements(x, x.graph.constant('int64', [2, 3], [0, 3, 3, 1, 1, 2]), 1),
  },
  Reshape: { shapes: [[2, 6]], build: ([a]) => op.reshape(op.mul(a, a), [3, 4]) },
  Transpose: { shapes: [[2, 3, 4]], build: ([a]) => op.transpose(a, [2, 0, 1]) },
  Concat: {
    shapes: [
      [2, 3],
      [2, 2],
    ],
    build: ([a, b]) => op.concat([a, b], 1),
  },
  Slice: { shapes: [[4, 5]], build: ([a]) => op.slice(a, [1, -4], [3, 100], [0, 1]) },
  Split: {
    shapes: [[5, 2]],
    build: ([a]) => {
      const [p, q] = op.split(a, [2, 3], 0);
      return op.mul(op.reduceSum(p, [0]), op.reduceSum(q, [0]));
    },
  },
  'Split with an unused part': { shapes: [[5, 2]], build: ([a]) => op.split(a, [2, 3], 0)[1] },
  Unsqueeze: { shapes: [[3]], build: ([a]) => op.unsqueeze(a, [0, 2]) },
  Squeeze: { shapes: [[3, 1, 2]], build: ([a]) => op.squeeze(a, [1]) },
  Expand: { shapes: [[3, 1]], build: ([a]) => op.expand(a, [2, 3, 4]) },
  Where: {
    shapes: [[2, 3], [3]],
    build: ([a, b]) => op.where(a.graph.constant('bool', [2, 3], [1, 0, 0, 1, 1, 0]), a, b),
  },
  Max: { shapes: [[2, 3], [3]], build: ([a, b]) => op.max(a, b), init: spread },
  Min: {
    shapes: [
      [2, 3],
      [2, 3],
    ],
    build: ([a, b]) => op.min(a, b),
    init: spread,
  },
  Clip: { shapes: [[8]], build: ([a]) => op.clip(a, -0.25, 0.15), init: spread },
  Cast: {
    shapes: [[4]],
    build: ([a]) => op.cast(op.mul(op.cast(a, 'float32'), a.graph.scalar('float32', 3)), 'float64'),
    h: 1e-3,
    tol: 1e-5,
  },
  RMSNormalization: { shapes: [[2, 3, 4], [4]], build: ([x, w]) => op.rmsNormalization(x, w, 1e-6) },
  // A linear op, so float32 finite differences with a large step are exact up to rounding.
  RotaryEmbedding: {
    shapes: [[2, 2, 3, 4]],
    dtype: 'float32',
    h: 1e-2,
    tol: 1e-3,
    build: ([x]) => {
      const g = x.graph;
      const angles = [0, 0, 0.3, 0.1, 1.1, 0.6, -0.4, 2.0];
      const cos = g.constant('float32', [4, 2], angles.map(Math.cos));
      const sin = g.constant('float32', [4, 2], angles.map(Math.sin));
      return op.rotaryEmbedding(x, cos, sin, g.constant('int64', [2, 3], [0, 1, 2, 3, 1, 2]));
    },
  },
  'Attention (grouped-query, masked)': {
    shapes: [
      [2, 4, 3, 2],
      [2, 2, 5, 2],
      [2, 2, 5, 2],
    ],
    build: ([q, k, v]) => {
      const mask = q.graph.constant(
        'bool',
        [2, 1, 3, 5],
        [1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1],
      );
      return op.attention(q, k, v, mask, 0.7);
    },
  },
  // The token log-prob head: its gradient arrives as a scatter into zeros and is folded into the
  // dense LogSoftmax term (and into a second consumer's gradient by accumulation).
  'LogSoftmax then GatherElements (sparse gradient)': {
    shapes: [[2, 3, 5]],
    build: ([x]) => {
      const idx = x.graph.constant('int64', [2, 3, 1], [4, 0, 2, 2, 1, 3]);
      const picked = op.gatherElements(op.logSoftmax(x, -1), idx, 2);
      return op.add(picked, op.gatherElements(x, idx, 2));
    },
  },
  'shared input (x*x + exp(x))': { shapes: [[3]], build: ([a]) => op.add(op.mul(a, a), op.exp(a)) },
  'RMSNorm-like composite': {
    shapes: [[2, 4], [4]],
    build: ([x, w]) =>
      op.mul(w, op.div(x, op.sqrt(op.add(op.reduceMean(op.mul(x, x), [-1], true), op.scalarLike(x, 1e-6))))),
  },
};

for (const [name, c] of Object.entries(cases)) {
  test(`gradient of ${name} matches finite differences`, (t) => checkGradients(t, c));
}

test('a parameter the loss does not reach gets a zero gradient', async (t) => {
  const g = new Graph();
  const a = g.input('a', 'float64', [2]);
  const b = g.input('b', 'float64', [3]);
  const [ga, gb] = gradients(op.reduceSum(op.mul(a, a), [0]), [a, b]);
  g.output(ga, 'ga');
  g.output(gb, 'gb');
  const s = await Session.create(g.toBytes());
  const out = await s.run({
    a: { dtype: 'float64', shape: [2], data: Float64Array.from([1.5, -2]) },
    b: { dtype: 'float64', shape: [3], data: new Float64Array(3) },
  });
  t.deepEqual([...(out.ga.data as Float64Array)], [3, -4]);
  t.deepEqual([...(out.gb.data as Float64Array)], [0, 0, 0]);
});

test('an op without a rule fails naming the op', (t) => {
  const g = new Graph();
  const a = g.input('a', 'float64', [2]);
  const [y] = g.node('Tanh', [a], [{ dtype: 'float64', shape: [2] }]);
  const err = t.throws(() => gradients(op.reduceSum(y, [0]), [a]));
  t.is(err?.name, 'GradientError');
  t.regex(err!.message, /Tanh/);
});

/** The serialized model's nodes: what onnxruntime will actually run. */
function serialized(g: Graph) {
  const graph = onnx.ModelProto.decode(g.toBytes()).graph!;
  const constant = (name: string) => {
    const raw = graph.initializer!.find((i) => i.name === name)!.rawData!;
    return Array.from(new BigInt64Array(raw.slice().buffer), Number);
  };
  return { ops: graph.node!.map((n) => n.opType!), graph, constant };
}

test('token log-probs backpropagate without a vocabulary-sized zero tensor', (t) => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 3, 4096]);
  const idx = g.input('idx', 'int64', [2, 3, 1]);
  const [gx] = gradients(op.reduceSum(op.gatherElements(op.logSoftmax(x, -1), idx, 2), [0, 1, 2]), [x]);
  g.output(gx, 'gx');
  const { ops, graph, constant } = serialized(g);
  // One scatter of the picked tokens' updates into the dense softmax term; no zeros to scatter into.
  t.is(ops.filter((o) => o === 'ScatterElements').length, 1);
  const expanded = graph.node!.filter((n) => n.opType === 'Expand').map((n) => constant(n.input![1]));
  t.true(
    expanded.every((shape) => !shape.includes(4096)),
    JSON.stringify(expanded),
  );
});

test('serialization leaves out nodes and initializers no output depends on', (t) => {
  const g = new Graph();
  const a = g.input('a', 'float32', [3]);
  op.exp(op.mul(a, g.constant('float32', [3], [7, 8, 9]))); // dead
  g.output(op.neg(a), 'y');
  const { ops, graph } = serialized(g);
  t.deepEqual(ops, ['Neg']);
  t.is(graph.initializer!.length, 0);
});
