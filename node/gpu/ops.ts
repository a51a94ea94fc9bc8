// Typed op helpers over the graph builder: each emits one ONNX node and infers its output shape.
// The forward models and the autodiff rules are both written with these.
import { type DType, type Graph, ONNX_DTYPE, type Shape, type Value, numel } from './graph.ts';
import { GraphError } from './errors.ts';

const fail = (op: string, msg: string): never => {
  throw new GraphError(`${op}: ${msg}`);
};
const fmt = (s: Shape) => `[${s.join(',')}]`;
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Numpy broadcasting of two shapes. */
export function broadcastShape(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) fail(op, `shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function sameDtype(op: string, xs: Value[]): DType {
  const d = xs[0].dtype;
  for (const x of xs) if (x.dtype !== d) fail(op, `mixed dtypes ${xs.map((v) => v.dtype).join(', ')}`);
  return d;
}

function binary(op: string, a: Value, b: Value): Value {
  const dtype = sameDtype(op, [a, b]);
  return a.graph.node(op, [a, b], [{ dtype, shape: broadcastShape(op, a.shape, b.shape) }])[0];
}

function compare(op: string, a: Value, b: Value): Value {
  sameDtype(op, [a, b]);
  return a.graph.node(op, [a, b], [{ dtype: 'bool', shape: broadcastShape(op, a.shape, b.shape) }])[0];
}

function unary(op: string, x: Value, attrs: Record<string, number> = {}): Value {
  return x.graph.node(op, [x], [{ dtype: x.dtype, shape: x.shape }], attrs)[0];
}

/** A scalar constant of `like`'s dtype. */
export const scalarLike = (like: Value, x: number): Value => like.graph.scalar(like.dtype, x);

export const add = (a: Value, b: Value) => binary('Add', a, b);
export const sub = (a: Value, b: Value) => binary('Sub', a, b);
export const mul = (a: Value, b: Value) => binary('Mul', a, b);
export const div = (a: Value, b: Value) => binary('Div', a, b);
export const pow = (a: Value, b: Value) => binary('Pow', a, b);
export const min = (a: Value, b: Value) => binary('Min', a, b);
export const max = (a: Value, b: Value) => binary('Max', a, b);
export const less = (a: Value, b: Value) => compare('Less', a, b);
export const lessOrEqual = (a: Value, b: Value) => compare('LessOrEqual', a, b);
export const greater = (a: Value, b: Value) => compare('Greater', a, b);
export const greaterOrEqual = (a: Value, b: Value) => compare('GreaterOrEqual', a, b);
export const equal = (a: Value, b: Value) => compare('Equal', a, b);
export const and = (a: Value, b: Value) => binary('And', a, b);
export const or = (a: Value, b: Value) => binary('Or', a, b);
export const not = (x: Value) => unary('Not', x);

export const neg = (x: Value) => unary('Neg', x);
export const exp = (x: Value) => unary('Exp', x);
export const log = (x: Value) => unary('Log', x);
export const sqrt = (x: Value) => unary('Sqrt', x);
export const reciprocal = (x: Value) => unary('Reciprocal', x);
export const sigmoid = (x: Value) => unary('Sigmoid', x);
export const abs = (x: Value) => unary('Abs', x);
export const identity = (x: Value) => unary('Identity', x);
export const softmax = (x: Value, axis = -1) => unary('Softmax', x, { axis });
export const logSoftmax = (x: Value, axis = -1) => unary('LogSoftmax', x, { axis });

/** SiLU as x * sigmoid(x). */
export const silu = (x: Value) => mul(x, sigmoid(x));

export function cast(x: Value, dtype: DType): Value {
  if (x.dtype === dtype) return x;
  return x.graph.node('Cast', [x], [{ dtype, shape: x.shape }], { to: ONNX_DTYPE[dtype] })[0];
}

export function where(cond: Value, a: Value, b: Value): Value {
  if (cond.dtype !== 'bool') fail('Where', `condition must be bool, got ${cond.dtype}`);
  const dtype = sameDtype('Where', [a, b]);
  const shape = broadcastShape('Where', broadcastShape('Where', cond.shape, a.shape), b.shape);
  return a.graph.node('Where', [cond, a, b], [{ dtype, shape }])[0];
}

/** Clip to [lo, hi] (scalars of x's dtype). */
export function clip(x: Value, lo: number, hi: number): Value {
  return x.graph.node('Clip', [x, scalarLike(x, lo), scalarLike(x, hi)], [{ dtype: x.dtype, shape: x.shape }])[0];
}

export function matmul(a: Value, b: Value): Value {
  const dtype = sameDtype('MatMul', [a, b]);
  if (a.shape.length < 2 || b.shape.length < 2)
    fail('MatMul', `needs rank >= 2, got ${fmt(a.shape)} x ${fmt(b.shape)}`);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) fail('MatMul', `inner dimensions differ: ${fmt(a.shape)} x ${fmt(b.shape)}`);
  const batch = broadcastShape('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return a.graph.node('MatMul', [a, b], [{ dtype, shape: [...batch, m, n] }])[0];
}

/**
 * a' b' for 2-D a and b, where x' is x or its transpose: the transposed operand is read in place, where a MatMul
 * would need a Transpose that copies it (or, over a constant weight, a folded copy per session).
 */
export function gemm(a: Value, b: Value, { transA = false, transB = false } = {}): Value {
  const dtype = sameDtype('Gemm', [a, b]);
  if (a.shape.length !== 2 || b.shape.length !== 2)
    fail('Gemm', `needs 2-D operands, got ${fmt(a.shape)} x ${fmt(b.shape)}`);
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== k2) fail('Gemm', `inner dimensions differ: ${fmt(a.shape)} x ${fmt(b.shape)}`);
  return a.graph.node('Gemm', [a, b], [{ dtype, shape: [m, n] }], { transA: +transA, transB: +transB })[0];
}

function reduced(x: Value, axes: number[], keepdims: boolean): number[] {
  const ax = axes.map((a) => norm(a, x.shape.length));
  return x.shape.flatMap((d, i) => (ax.includes(i) ? (keepdims ? [1] : []) : [d]));
}

function reduce(op: string, x: Value, axes: number[], keepdims: boolean): Value {
  const shape = reduced(x, axes, keepdims);
  return x.graph.node(op, [x, x.graph.ints(axes)], [{ dtype: x.dtype, shape }], { keepdims: keepdims ? 1 : 0 })[0];
}

export const reduceSum = (x: Value, axes: number[], keepdims = false) => reduce('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Value, axes: number[], keepdims = false) => reduce('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Value, axes: number[], keepdims = false) => reduce('ReduceMax', x, axes, keepdims);
export const reduceMin = (x: Value, axes: number[], keepdims = false) => reduce('ReduceMin', x, axes, keepdims);
export const reduceLogSumExp = (x: Value, axes: number[], keepdims = false) =>
  reduce('ReduceLogSumExp', x, axes, keepdims);

export function reshape(x: Value, shape: Shape): Value {
  if (numel(shape) !== numel(x.shape)) fail('Reshape', `cannot reshape ${fmt(x.shape)} to ${fmt(shape)}`);
  // Reshape of a reshape reads the original tensor.
  const src = x.graph.producer(x);
  if (src?.opType === 'Reshape') x = src.inputs[0];
  if (shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i])) return x;
  return x.graph.node('Reshape', [x, x.graph.ints(shape)], [{ dtype: x.dtype, shape }])[0];
}

export function transpose(x: Value, perm: number[]): Value {
  if (perm.length !== x.shape.length) fail('Transpose', `perm ${fmt(perm)} does not fit ${fmt(x.shape)}`);
  const shape = perm.map((p) => x.shape[p]);
  // Moving only axes of size 1 keeps the memory order: a (free) reshape.
  const moved = perm.filter((p) => x.shape[p] !== 1);
  if (moved.every((p, i) => i === 0 || p > moved[i - 1])) return reshape(x, shape);
  return x.graph.node('Transpose', [x], [{ dtype: x.dtype, shape }], { perm })[0];
}

/** Swaps the last two axes. */
export function transposeLast(x: Value): Value {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return transpose(x, perm);
}

export function unsqueeze(x: Value, axes: number[]): Value {
  const rank = x.shape.length + axes.length;
  const ax = axes.map((a) => norm(a, rank));
  const shape: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(ax.includes(i) ? 1 : x.shape[j++]);
  return x.graph.node('Unsqueeze', [x, x.graph.ints(axes)], [{ dtype: x.dtype, shape }])[0];
}

export function squeeze(x: Value, axes: number[]): Value {
  const ax = axes.map((a) => norm(a, x.shape.length));
  for (const a of ax) if (x.shape[a] !== 1) fail('Squeeze', `axis ${a} of ${fmt(x.shape)} is not 1`);
  const shape = x.shape.filter((_, i) => !ax.includes(i));
  return x.graph.node('Squeeze', [x, x.graph.ints(axes)], [{ dtype: x.dtype, shape }])[0];
}

export function expand(x: Value, shape: Shape): Value {
  const out = broadcastShape('Expand', x.shape, shape);
  return x.graph.node('Expand', [x, x.graph.ints(shape)], [{ dtype: x.dtype, shape: out }])[0];
}

export function concat(xs: Value[], axis: number): Value {
  const dtype = sameDtype('Concat', xs);
  const a = norm(axis, xs[0].shape.length);
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
  for (const x of xs) {
    if (x.shape.some((d, i) => i !== a && d !== shape[i]))
      fail('Concat', `shapes ${xs.map((v) => fmt(v.shape)).join(', ')} differ off axis ${a}`);
  }
  return xs[0].graph.node('Concat', xs, [{ dtype, shape }], { axis })[0];
}

/** Slice with step 1: `starts`/`ends` per axis in `axes` (ends clamp to the dimension). */
export function slice(x: Value, starts: number[], ends: number[], axes: number[]): Value {
  const shape = [...x.shape];
  axes.forEach((axis, i) => {
    const a = norm(axis, x.shape.length);
    const d = x.shape[a];
    const s = Math.min(Math.max(starts[i] < 0 ? starts[i] + d : starts[i], 0), d);
    const e = Math.min(Math.max(ends[i] < 0 ? ends[i] + d : ends[i], 0), d);
    shape[a] = Math.max(e - s, 0);
  });
  const g = x.graph;
  return g.node('Slice', [x, g.ints(starts), g.ints(ends), g.ints(axes)], [{ dtype: x.dtype, shape }])[0];
}

export function split(x: Value, sizes: number[], axis: number): Value[] {
  const a = norm(axis, x.shape.length);
  if (sizes.reduce((s, n) => s + n, 0) !== x.shape[a]) fail('Split', `sizes ${fmt(sizes)} do not sum to ${x.shape[a]}`);
  const outs = sizes.map((n) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === a ? n : d)) }));
  return x.graph.node('Split', [x, x.graph.ints(sizes)], outs, { axis });
}

/** Gathers slices of `data` along `axis` at integer `indices`. */
export function gather(data: Value, indices: Value, axis = 0): Value {
  const a = norm(axis, data.shape.length);
  const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
  return data.graph.node('Gather', [data, indices], [{ dtype: data.dtype, shape }], { axis })[0];
}

export function gatherElements(data: Value, indices: Value, axis: number): Value {
  if (indices.shape.length !== data.shape.length) fail('GatherElements', 'indices must have the rank of data');
  return data.graph.node('GatherElements', [data, indices], [{ dtype: data.dtype, shape: indices.shape }], { axis })[0];
}

/** ScatterElements: `data` with `updates` written (or, with reduction 'add', added) at `indices` along `axis`. */
export function scatterElements(data: Value, indices: Value, updates: Value, axis: number, reduction?: 'add'): Value {
  return data.graph.node(
    'ScatterElements',
    [data, indices, updates],
    [{ dtype: data.dtype, shape: data.shape }],
    reduction ? { axis, reduction } : { axis },
  )[0];
}

export const scatterElementsAdd = (data: Value, indices: Value, updates: Value, axis: number) =>
  scatterElements(data, indices, updates, axis, 'add');

/**
 * ScatterND: `data` with each slice `updates[i...]` written (or, with reduction 'add', added) at the
 * leading coordinates `indices[i..., :]`. A slice is copied whole, so writing rows of `d` values is
 * about twice as fast as ScatterElements writing them one value at a time.
 */
export function scatterND(data: Value, indices: Value, updates: Value, reduction?: 'add'): Value {
  const k = indices.shape[indices.shape.length - 1];
  const want = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
  if (k > data.shape.length || fmt(updates.shape) !== fmt(want))
    fail(
      'ScatterND',
      `updates ${fmt(updates.shape)} should be ${fmt(want)} for indices ${fmt(indices.shape)} into ${fmt(data.shape)}`,
    );
  return data.graph.node(
    'ScatterND',
    [data, indices, updates],
    [{ dtype: data.dtype, shape: data.shape }],
    reduction ? { reduction } : {},
  )[0];
}

export const scatterNDAdd = (data: Value, indices: Value, updates: Value) => scatterND(data, indices, updates, 'add');

/** Zero-padding; `pads` is [begin_0..begin_r, end_0..end_r]. */
export function pad(x: Value, pads: number[]): Value {
  const r = x.shape.length;
  const shape = x.shape.map((d, i) => d + pads[i] + pads[i + r]);
  return x.graph.node('Pad', [x, x.graph.ints(pads)], [{ dtype: x.dtype, shape }])[0];
}

/** A tensor of zeros with the given dtype and shape. */
export function zeros(like: Value, shape: Shape = like.shape): Value {
  return expand(scalarLike(like, 0), shape);
}

export function argMax(x: Value, axis: number, keepdims = false): Value {
  const shape = reduced(x, [axis], keepdims);
  return x.graph.node('ArgMax', [x], [{ dtype: 'int64', shape }], { axis, keepdims: keepdims ? 1 : 0 })[0];
}

/** 0, 1, ..., n-1 as int64. */
export function range(like: Value, n: number): Value {
  const g = like.graph;
  const [y] = g.node(
    'Range',
    [g.scalar('int64', 0), g.scalar('int64', n), g.scalar('int64', 1)],
    [{ dtype: 'int64', shape: [n] }],
  );
  return y;
}

/** The k largest values along the last axis, sorted descending, and their indices. */
export function topK(x: Value, k: number): [Value, Value] {
  const shape = [...x.shape.slice(0, -1), k];
  const [v, i] = x.graph.node(
    'TopK',
    [x, x.graph.ints([k])],
    [
      { dtype: x.dtype, shape },
      { dtype: 'int64', shape },
    ],
    { axis: -1 },
  );
  return [v, i];
}

export function cumSum(x: Value, axis: number): Value {
  return x.graph.node('CumSum', [x, x.graph.scalar('int64', axis)], [{ dtype: x.dtype, shape: x.shape }])[0];
}

/** RMSNormalization (opset 23) over the last axis: scale * x / sqrt(mean(x^2) + eps). */
export function rmsNormalization(x: Value, scale: Value, eps: number): Value {
  return x.graph.node('RMSNormalization', [x, scale], [{ dtype: x.dtype, shape: x.shape }], {
    axis: -1,
    epsilon: { float: eps },
  })[0];
}

/**
 * RotaryEmbedding (opset 23), rotate-half convention, on x [B, heads, T, D]; `cos`/`sin` are
 * [maxPosition, D/2] caches read at `positions` [B, T].
 */
export function rotaryEmbedding(x: Value, cos: Value, sin: Value, positions: Value): Value {
  return x.graph.node('RotaryEmbedding', [x, cos, sin, positions], [{ dtype: x.dtype, shape: x.shape }], {
    interleaved: 0,
  })[0];
}

/**
 * Attention (opset 23): softmax(q k^T * scale + mask) v on q [B, H, T, D], k/v [B, Hkv, S, D] with
 * H a multiple of Hkv (grouped-query); `mask` [B, 1, T, S] bool, true where a query may see a key.
 */
export function attention(q: Value, k: Value, v: Value, mask: Value, scale: number): Value {
  if (q.shape[1] % k.shape[1] !== 0)
    fail('Attention', `${q.shape[1]} query heads do not group over ${k.shape[1]} kv heads`);
  return q.graph.node('Attention', [q, k, v, mask], [{ dtype: q.dtype, shape: q.shape }], {
    scale: { float: scale },
  })[0];
}

/** Sum of squares of all elements, as a scalar (no gradient rule: for norms only). */
export function reduceSumSquare(x: Value): Value {
  return x.graph.node('ReduceSumSquare', [x], [{ dtype: x.dtype, shape: [] }], { keepdims: 0 })[0];
}

/**
 * Loop (ONNX): runs `body` `trips` times at most, while its condition holds. The body's inputs are
 * the iteration (int64 []), the condition (bool []) and the carried values; its outputs the next
 * condition, the carried values, then the scan outputs. Returns the carried values' last state, then
 * each scan output stacked over the iterations run (`scans` gives each stack's most).
 */
export function loop(
  trips: Value,
  cond: Value,
  carried: readonly Value[],
  body: Graph,
  scans: { dtype: DType; shape: Shape }[],
): Value[] {
  return trips.graph.node(
    'Loop',
    [trips, cond, ...carried],
    [...carried.map((c) => ({ dtype: c.dtype, shape: c.shape })), ...scans],
    { body: { graph: body } },
  );
}
