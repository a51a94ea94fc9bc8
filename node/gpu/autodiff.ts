// Reverse-mode autodiff over a Graph: emits the backward pass as standard ONNX ops through the same
// op helpers the forward pass uses. All gradient rules live in one table (RULES); `gradients` walks
// the nodes between the parameters and the loss in reverse order and accumulates by addition.
import { type Node, type Shape, type Value, isFloat, numel } from './graph.ts';
import { GradientError } from './errors.ts';
import * as op from './ops.ts';

/** For each input of a node, a thunk that builds its gradient, or null when it has none. */
type Thunk = (() => Value) | null;
type Rule = (n: Node, gy: Value[]) => Thunk[];

/** x viewed as a matrix [everything but the last axis, last axis]. */
const rows = (x: Value) => op.reshape(x, [numel(x.shape) / x.shape[x.shape.length - 1], x.shape[x.shape.length - 1]]);
const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);
const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Undoes numpy broadcasting: sums `g` over the axes along which `shape` was broadcast. */
export function unbroadcast(g: Value, shape: Shape): Value {
  if (same(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  return op.reshape(axes.length ? op.reduceSum(g, axes, true) : g, shape);
}

/** The axes of a Reduce* node, read back from its constant axes input. */
function reduceAxes(n: Node): number[] {
  const r = n.inputs[0].shape.length;
  return constInts(n.inputs[1]).map((a) => normAxis(a, r));
}

/** Gradient of a reduction: the output gradient laid back over the reduced axes. */
function unreduce(n: Node, g: Value): Value {
  const x = n.inputs[0];
  const axes = reduceAxes(n);
  return op.expand(
    op.reshape(
      g,
      x.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
    ),
    x.shape,
  );
}

const inverse = (perm: number[]) => perm.map((_, i) => perm.indexOf(i));

/** The gradient rule of every op the models and losses use. */
export const RULES: Record<string, Rule> = {
  Identity: (_n, [g]) => [() => g],
  Add: ({ inputs: [a, b] }, [g]) => [() => unbroadcast(g, a.shape), () => unbroadcast(g, b.shape)],
  Sub: ({ inputs: [a, b] }, [g]) => [() => unbroadcast(g, a.shape), () => unbroadcast(op.neg(g), b.shape)],
  Mul: ({ inputs: [a, b] }, [g]) => [
    () => unbroadcast(op.mul(g, b), a.shape),
    () => unbroadcast(op.mul(g, a), b.shape),
  ],
  Div: ({ inputs: [a, b], outputs: [y] }, [g]) => [
    () => unbroadcast(op.div(g, b), a.shape),
    () => unbroadcast(op.neg(op.div(op.mul(g, y), b)), b.shape),
  ],
  Neg: (_n, [g]) => [() => op.neg(g)],
  Exp: ({ outputs: [y] }, [g]) => [() => op.mul(g, y)],
  Log: ({ inputs: [x] }, [g]) => [() => op.div(g, x)],
  Sqrt: ({ outputs: [y] }, [g]) => [() => op.div(op.mul(g, op.scalarLike(g, 0.5)), y)],
  Reciprocal: ({ outputs: [y] }, [g]) => [() => op.neg(op.mul(g, op.mul(y, y)))],
  // d(x^p)/dx = p x^(p-1); d/dp = x^p log x.
  Pow: ({ inputs: [x, p], outputs: [y] }, [g]) => [
    () => unbroadcast(op.mul(g, op.mul(p, op.pow(x, op.sub(p, op.scalarLike(p, 1))))), x.shape),
    () => unbroadcast(op.mul(g, op.mul(y, op.log(x))), p.shape),
  ],
  Sigmoid: ({ outputs: [y] }, [g]) => [() => op.mul(g, op.mul(y, op.sub(op.scalarLike(y, 1), y)))],
  Abs: ({ inputs: [x] }, [g]) => [() => op.where(op.less(x, op.scalarLike(x, 0)), op.neg(g), g)],
  // A 2-D weight applied over batch dimensions: one product over all rows, with the transposed operand read in place.
  MatMul: ({ inputs: [a, b] }, [g]) => [
    () =>
      b.shape.length === 2
        ? op.reshape(op.gemm(rows(g), b, { transB: true }), a.shape)
        : unbroadcast(op.matmul(g, op.transposeLast(b)), a.shape),
    () =>
      b.shape.length === 2
        ? op.gemm(rows(a), rows(g), { transA: true })
        : unbroadcast(op.matmul(op.transposeLast(a), g), b.shape),
  ],
  // Y = A' B' (X' = X or its transpose): dA' = g B'^T and dB' = A'^T g, transposed back where X' = X^T.
  Gemm: ({ inputs: [a, b], attrs }, [g]) => {
    const [ta, tb] = [!!attrs.transA, !!attrs.transB];
    return [
      () => (ta ? op.gemm(b, g, { transA: tb, transB: true }) : op.gemm(g, b, { transB: !tb })),
      () => (tb ? op.gemm(g, a, { transA: true, transB: ta }) : op.gemm(a, g, { transA: !ta })),
    ];
  },
  ReduceSum: (n, [g]) => [() => unreduce(n, g), null],
  ReduceMean: (n, [g]) => {
    const x = n.inputs[0];
    const count = reduceAxes(n).reduce((c, a) => c * x.shape[a], 1);
    return [() => op.div(unreduce(n, g), op.scalarLike(g, count)), null];
  },
  // The gradient flows to the maxima, split evenly between ties.
  ReduceMax: (n, [g]) => [
    () => {
      const x = n.inputs[0];
      const hit = op.cast(op.equal(x, unreduce(n, n.outputs[0])), x.dtype);
      const ties = op.reduceSum(hit, reduceAxes(n), true);
      return op.mul(hit, op.div(unreduce(n, g), op.expand(ties, x.shape)));
    },
    null,
  ],
  // d lse / dx = exp(x - lse): a softmax when reducing the last axis alone.
  ReduceLogSumExp: (n, [g]) => [
    () => {
      const x = n.inputs[0];
      const axes = reduceAxes(n);
      const keep = op.reshape(
        g,
        x.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
      );
      const p =
        axes.length === 1 && axes[0] === x.shape.length - 1
          ? op.softmax(x, -1)
          : op.exp(op.sub(x, op.reshape(n.outputs[0], keep.shape)));
      return op.mul(p, keep);
    },
    null,
  ],
  Softmax: ({ outputs: [y], attrs }, [g]) => [
    () => {
      const gy = op.mul(g, y);
      return op.sub(gy, op.mul(y, op.reduceSum(gy, [attrs.axis as number], true)));
    },
  ],
  // g - softmax(x) * sum(g). When g is a gather's scatter into zeros (token log-probs), its sum comes
  // from the scattered updates and the scatter lands on the dense term: no vocabulary-sized zeros.
  LogSoftmax: ({ outputs: [y], attrs }, [g]) => [
    () => {
      const axis = normAxis(attrs.axis as number, y.shape.length);
      const sparse = scatterIntoZeros(g);
      const sum =
        sparse && sparse.axis === axis ? op.reduceSum(sparse.updates, [axis], true) : op.reduceSum(g, [axis], true);
      return accumulate(g, op.mul(op.exp(y), op.neg(sum)));
    },
  ],
  Gather: ({ inputs: [data, idx], attrs }, [g]) => [() => gatherGrad(data, idx, g, attrs.axis as number), null],
  GatherElements: ({ inputs: [data, idx], attrs }, [g]) => [
    () => op.scatterElementsAdd(op.zeros(g, data.shape), idx, g, attrs.axis as number),
    null,
  ],
  Reshape: ({ inputs: [x] }, [g]) => [() => op.reshape(g, x.shape), null],
  Unsqueeze: ({ inputs: [x] }, [g]) => [() => op.reshape(g, x.shape), null],
  Squeeze: ({ inputs: [x] }, [g]) => [() => op.reshape(g, x.shape), null],
  Expand: ({ inputs: [x] }, [g]) => [() => unbroadcast(g, x.shape), null],
  Transpose: ({ attrs }, [g]) => [() => op.transpose(g, inverse(attrs.perm as number[]))],
  Concat: ({ inputs, attrs }, [g]) => {
    const axis = attrs.axis as number;
    const a = normAxis(axis, g.shape.length);
    let parts: Value[] | undefined;
    return inputs.map(
      (_x, i) => () =>
        (parts ??= op.split(
          g,
          inputs.map((x) => x.shape[a]),
          axis,
        ))[i],
    );
  },
  Split: ({ inputs: [x], outputs, attrs }, gys) => [
    () =>
      op.concat(
        outputs.map((o, i) => gys[i] ?? op.zeros(x, o.shape)),
        attrs.axis as number,
      ),
    null,
  ],
  Slice: ({ inputs: [x], outputs: [y] }, [g]) => [() => sliceGrad(x, y, g), null, null, null, null],
  Where: ({ inputs: [c, a, b] }, [g]) => [
    null,
    () => unbroadcast(op.where(c, g, op.scalarLike(g, 0)), a.shape),
    () => unbroadcast(op.where(c, op.scalarLike(g, 0), g), b.shape),
  ],
  // Ties go to the first argument.
  Max: ({ inputs: [a, b] }, [g]) => minMax(a, b, g, op.greaterOrEqual(a, b)),
  Min: ({ inputs: [a, b] }, [g]) => minMax(a, b, g, op.lessOrEqual(a, b)),
  Clip: ({ inputs: [x, lo, hi] }, [g]) => [
    () => op.where(op.and(op.greaterOrEqual(x, lo), op.lessOrEqual(x, hi)), g, op.scalarLike(g, 0)),
    null,
    null,
  ],
  Cast: ({ inputs: [x] }, [g]) => [isFloat(x.dtype) ? () => op.cast(g, x.dtype) : null],
  RMSNormalization: ({ inputs: [x, scale], attrs }, [g]) => {
    // y = scale * xhat, xhat = x * r, r = 1/sqrt(mean(x^2) + eps); dx = r * (gs - xhat * mean(gs * xhat)).
    const eps = (attrs.epsilon as { float: number }).float;
    let parts: { r: Value; xhat: Value } | undefined;
    const get = () => (parts ??= rmsParts(x, eps));
    return [
      () => {
        const { r, xhat } = get();
        const gs = op.mul(g, scale);
        return op.mul(r, op.sub(gs, op.mul(xhat, op.reduceMean(op.mul(gs, xhat), [-1], true))));
      },
      () => unbroadcast(op.mul(g, get().xhat), scale.shape),
    ];
  },
  // A rotation's transpose is the rotation by the opposite angle.
  RotaryEmbedding: ({ inputs: [, cos, sin, pos] }, [g]) => [
    () => op.rotaryEmbedding(g, cos, op.neg(sin), pos),
    null,
    null,
    null,
  ],
  Attention: (n, [g]) => attentionGrads(n, g),
};

function minMax(a: Value, b: Value, g: Value, pickA: Value): Thunk[] {
  const zero = op.scalarLike(g, 0);
  return [() => unbroadcast(op.where(pickA, g, zero), a.shape), () => unbroadcast(op.where(pickA, zero, g), b.shape)];
}

function rmsParts(x: Value, eps: number): { r: Value; xhat: Value } {
  const r = op.reciprocal(op.sqrt(op.add(op.reduceMean(op.mul(x, x), [-1], true), op.scalarLike(x, eps))));
  return { r, xhat: op.mul(x, r) };
}

/**
 * Attention's gradients. The forward node is asked for its softmax probabilities (output mode 3)
 * rather than recomputing them. Queries are viewed as [B, Hkv, group, T, D] so that keys and values
 * broadcast over the group; their gradients are summed back over it.
 */
function attentionGrads(n: Node, g: Value): Thunk[] {
  const [q, k, v] = n.inputs;
  const scale = (n.attrs.scale as { float: number }).float;
  const [b, h, t, d] = q.shape;
  const [, hk, s] = k.shape;
  const group = h / hk;
  const q5 = op.reshape(q, [b, hk, group, t, d]);
  const k5 = op.reshape(k, [b, hk, 1, s, d]);
  const v5 = op.reshape(v, [b, hk, 1, s, d]);
  const g5 = op.reshape(g, [b, hk, group, t, d]);
  let cached: { p: Value; dS: Value } | undefined;
  const parts = () => {
    if (cached) return cached;
    const probs =
      n.outputs[3] ??
      q.graph.extendNode(
        n,
        [
          { dtype: k.dtype, shape: k.shape },
          { dtype: v.dtype, shape: v.shape },
          { dtype: q.dtype, shape: [b, h, t, s] },
        ],
        { qk_matmul_output_mode: 3 },
      )[2];
    const p = op.reshape(probs, [b, hk, group, t, s]);
    const dP = op.matmul(g5, op.transposeLast(v5));
    const dS = op.mul(p, op.sub(dP, op.reduceSum(op.mul(dP, p), [-1], true)));
    return (cached = { p, dS });
  };
  const overGroup = (x: Value) => op.reshape(op.reduceSum(x, [2], true), [b, hk, s, d]);
  return [
    () => op.reshape(op.mul(op.matmul(parts().dS, k5), op.scalarLike(q, scale)), q.shape),
    () => overGroup(op.mul(op.matmul(op.transposeLast(parts().dS), q5), op.scalarLike(q, scale))),
    () => overGroup(op.matmul(op.transposeLast(parts().p), g5)),
    null,
  ];
}

/** Gather's gradient: scatter-add the output gradient back into zeros shaped like `data`. */
function gatherGrad(data: Value, idx: Value, g: Value, axis: number): Value {
  const a = normAxis(axis, data.shape.length);
  if (a !== 0) {
    // Move the gathered axis to the front, scatter there, and move it back.
    const perm = [a, ...[...data.shape.keys()].filter((d) => d !== a)];
    const gAxes = [...g.shape.keys()];
    const ni = idx.shape.length;
    const moved = op.transpose(g, [...gAxes.slice(a, a + ni), ...gAxes.filter((d) => d < a || d >= a + ni)]);
    const dataT = perm.map((p) => data.shape[p]);
    return op.transpose(gatherGrad({ ...data, shape: dataT } as Value, idx, moved, 0), inverse(perm));
  }
  return op.scatterNDAdd(op.zeros(g, data.shape), op.unsqueeze(op.cast(idx, 'int64'), [-1]), g);
}

/** Slice's gradient: the output gradient zero-padded back to the input's shape (step 1 only). */
function sliceGrad(x: Value, y: Value, g: Value): Value {
  const n = x.graph.producer(y)!;
  const starts = constInts(n.inputs[1]);
  const axes = constInts(n.inputs[3]);
  const r = x.shape.length;
  const pads = new Array(2 * r).fill(0);
  axes.forEach((axis, i) => {
    const a = normAxis(axis, r);
    const d = x.shape[a];
    const s = Math.min(Math.max(starts[i] < 0 ? starts[i] + d : starts[i], 0), d);
    pads[a] = s;
    pads[a + r] = d - s - y.shape[a];
  });
  return op.pad(g, pads);
}

function constInts(v: Value): number[] {
  const data = v.graph.constantData(v);
  if (!data)
    throw new GradientError(
      `the gradient needs '${v.name}' (axes, starts or ends) to be a constant, not a computed value`,
    );
  return Array.from(new BigInt64Array(data.buffer, data.byteOffset, data.byteLength / 8), Number);
}

/**
 * prev + gx. A scatter-add into zeros (the gradient of a gather) is scattered into the other term
 * instead, which saves a zero-filled tensor and a full-size addition.
 */
function accumulate(prev: Value, gx: Value): Value {
  for (const [sparse, dense] of [
    [gx, prev],
    [prev, gx],
  ]) {
    const s = scatterIntoZeros(sparse);
    if (s && same(dense.shape, sparse.shape)) return op.scatterElementsAdd(dense, s.indices, s.updates, s.axis);
  }
  return op.add(prev, gx);
}

/** The parts of `v` when it is ScatterElements(zeros, indices, updates): a gather's gradient. */
function scatterIntoZeros(v: Value): { indices: Value; updates: Value; axis: number } | undefined {
  const n = v.graph.producer(v);
  if (n?.opType !== 'ScatterElements' || n.attrs.reduction !== 'add') return undefined;
  const z = v.graph.producer(n.inputs[0]);
  const zero = z?.opType === 'Expand' ? v.graph.constantData(z.inputs[0]) : undefined;
  if (!zero?.every((b) => b === 0)) return undefined;
  return { indices: n.inputs[1], updates: n.inputs[2], axis: normAxis(n.attrs.axis as number, v.shape.length) };
}

/**
 * Emits d(loss)/d(param) for each parameter (zeros for a parameter the loss does not reach).
 * `loss` must hold a single element.
 */
export function gradients(loss: Value, params: readonly Value[]): Value[] {
  const graph = loss.graph;
  if (loss.shape.some((d) => d !== 1))
    throw new GradientError(`loss must be a scalar, got shape [${loss.shape.join(',')}]`);
  // Values that depend on a parameter, in forward order.
  const dependent = new Set(params.map((p) => p.name));
  const nodes = graph.nodes.slice();
  for (const n of nodes) {
    if (n.inputs.some((x) => dependent.has(x.name))) for (const y of n.outputs) dependent.add(y.name);
  }
  const grads = new Map<string, Value>([[loss.name, op.expand(op.scalarLike(loss, 1), loss.shape)]]);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    const gys = n.outputs.map((y) => grads.get(y.name));
    if (gys.every((g) => !g) || !n.inputs.some((x) => dependent.has(x.name))) continue;
    const rule = RULES[n.opType];
    if (!rule) throw new GradientError(`no gradient rule for op ${n.opType} (output '${n.outputs[0].name}')`);
    // Outputs nobody used arrive as undefined (only multi-output ops, such as Split, can have them).
    const thunks = rule(n, gys as Value[]);
    n.inputs.forEach((x, i) => {
      const thunk = thunks[i];
      if (!thunk || !dependent.has(x.name)) return;
      const gx = thunk();
      const prev = grads.get(x.name);
      grads.set(x.name, prev ? accumulate(prev, gx) : gx);
    });
  }
  return params.map((p) => grads.get(p.name) ?? op.zeros(p));
}
