// AdamW inside the step graph (Loshchilov & Hutter): global-norm gradient clipping, bias-corrected
// moments, decoupled weight decay. Parameters and moments live in two flat buffers per kind (matrices,
// which decay, and vectors, which do not). A step updates tensor by tensor, reading views of those
// buffers and writing into views of the caller's spare ones, so that it holds no flat copy of the
// gradients (at 0.6B each is 2.4 GB); the update from gradients summed over micro-batches runs over
// the flat buffers whole.
import type { Graph, Shape, Value } from './graph.ts';
import { numel } from './graph.ts';
import * as op from './ops.ts';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /**
   * Decoupled decay p -= lr * weightDecay * p, for tensors of 2+ dimensions only: 1-D ones (norm weights, biases)
   * never decay.
   */
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  maxGradNorm: number;
  /**
   * Linear warmup: step t = 1, 2, ... uses lr * min(1, t / warmupSteps), so lr / warmupSteps first and the full lr
   * from step warmupSteps on (0 = none).
   */
  warmupSteps: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1,
  warmupSteps: 0,
};

export type GroupName = 'decay' | 'no_decay';

/** Where each parameter sits in its group's flat buffer. */
export interface ParamGroup {
  name: GroupName;
  size: number;
  members: { name: string; shape: Shape; offset: number }[];
}

/** Graph input/output names of a group's flat tensors. */
export const groupNames = (group: GroupName) => ({
  params: `params.${group}`,
  m: `adam_m.${group}`,
  v: `adam_v.${group}`,
  newParams: `new_params.${group}`,
  newM: `new_adam_m.${group}`,
  newV: `new_adam_v.${group}`,
});

/**
 * Splits parameters (in order) into the decaying tensors of 2+ dimensions and the non-decaying 1-D ones (norm
 * weights, biases).
 */
export function paramGroups(params: readonly [string, Shape][]): ParamGroup[] {
  const groups: ParamGroup[] = [
    { name: 'decay', size: 0, members: [] },
    { name: 'no_decay', size: 0, members: [] },
  ];
  for (const [name, shape] of params) {
    const g = groups[shape.length >= 2 ? 0 : 1];
    g.members.push({ name, shape, offset: g.size });
    g.size += numel(shape);
  }
  return groups.filter((g) => g.size > 0);
}

/**
 * Per-step scalars fed to the graph for step t (1-based): lr with warmup (see AdamWConfig) and the bias corrections 1
 * - beta^t.
 */
export function adamwScalars(cfg: AdamWConfig, step: number): { lr: number; bc1: number; bc2: number } {
  const warm = cfg.warmupSteps > 0 ? Math.min(1, step / cfg.warmupSteps) : 1;
  return { lr: cfg.lr * warm, bc1: 1 - cfg.beta1 ** step, bc2: 1 - cfg.beta2 ** step };
}

/** Graph input/output names of one tensor's moments and new values (a step's per-tensor update). */
export const tensorNames = (name: string) => ({
  m: `adam_m.${name}`,
  v: `adam_v.${name}`,
  newParams: `new_params.${name}`,
  newM: `new_adam_m.${name}`,
  newV: `new_adam_v.${name}`,
});

/** The step's scalars (inputs `lr`, `bc1`, `bc2`), the global norm of `grads` (output `grad_norm`) and its clip. */
function stepScalars(g: Graph, grads: readonly Value[], cfg: AdamWConfig) {
  const lr = g.input('lr', 'float32', []);
  const bc1 = g.input('bc1', 'float32', []);
  const bc2 = g.input('bc2', 'float32', []);
  const c = (x: number) => g.scalar('float32', x);
  const norm = op.sqrt(grads.map((f) => op.reduceSumSquare(f)).reduce((a, b) => op.add(a, b)));
  g.output(norm, 'grad_norm');
  const scale = cfg.maxGradNorm > 0 ? op.min(c(1), op.div(c(cfg.maxGradNorm), op.add(norm, c(1e-6)))) : c(1);
  // PyTorch's arrangement: p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
  //                          = (lr sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2)).
  const rootBc2 = op.sqrt(bc2);
  return { lr, c, scale, stepSize: op.div(op.mul(lr, rootBc2), bc1), eps: op.mul(c(cfg.eps), rootBc2) };
}

/** One tensor's (or flat group's) AdamW update: new parameters and moments from its gradient. */
function adamwOf(
  s: ReturnType<typeof stepScalars>,
  cfg: AdamWConfig,
  t: { p: Value; m: Value; v: Value; grad: Value; decays: boolean },
): { p: Value; m: Value; v: Value } {
  const { c, scale, lr } = s;
  const m = op.add(op.mul(t.m, c(cfg.beta1)), op.mul(t.grad, op.mul(scale, c(1 - cfg.beta1))));
  const v = op.add(
    op.mul(t.v, c(cfg.beta2)),
    op.mul(op.mul(t.grad, t.grad), op.mul(op.mul(scale, scale), c(1 - cfg.beta2))),
  );
  const update = op.mul(op.div(m, op.add(op.sqrt(v), s.eps)), s.stepSize);
  const decayed = t.decays && cfg.weightDecay > 0 ? op.mul(t.p, op.sub(c(1), op.mul(lr, c(cfg.weightDecay)))) : t.p;
  return { p: op.sub(decayed, update), m, v };
}

/**
 * Emits one AdamW update of every trainable tensor from its gradient, tensor by tensor, so that no flat copy of the
 * gradients or of any pass over them exists: inputs `lr`, `bc1`, `bc2` and each tensor's moments (tensorNames; the
 * parameters are the graph's inputs `params`); outputs each tensor's new parameters and moments, and `grad_norm`
 * (before clipping). The caller passes views of its groups' flat buffers.
 */
export function adamwUpdate(
  g: Graph,
  groups: readonly ParamGroup[],
  params: ReadonlyMap<string, Value>,
  grads: ReadonlyMap<string, Value>,
  cfg: AdamWConfig,
): void {
  const s = stepScalars(g, [...grads.values()], cfg);
  for (const grp of groups)
    for (const { name, shape } of grp.members) {
      const n = tensorNames(name);
      const next = adamwOf(s, cfg, {
        p: params.get(name)!,
        m: g.input(n.m, 'float32', shape),
        v: g.input(n.v, 'float32', shape),
        grad: grads.get(name)!,
        decays: grp.name === 'decay',
      });
      g.output(next.p, n.newParams);
      g.output(next.m, n.newM);
      g.output(next.v, n.newV);
    }
}

/** Each group's gradients as one flat vector, in the group's order. */
export function flatGradients(groups: readonly ParamGroup[], grads: ReadonlyMap<string, Value>): Value[] {
  return groups.map((grp) =>
    op.concat(
      grp.members.map((m) => op.reshape(grads.get(m.name)!, [numel(m.shape)])),
      0,
    ),
  );
}

/**
 * AdamW over each group's flat parameters and moments from its flat gradient (`flat[i]` for `groups[i]`, e.g. one
 * summed over micro-batches): inputs `lr`, `bc1`, `bc2` and per group the flat parameters and moments; outputs per
 * group the new ones, and `grad_norm` (before clipping).
 */
export function adamwFromFlat(g: Graph, groups: readonly ParamGroup[], flat: readonly Value[], cfg: AdamWConfig): void {
  const s = stepScalars(g, flat, cfg);
  groups.forEach((grp, i) => {
    const n = groupNames(grp.name);
    const next = adamwOf(s, cfg, {
      p: g.input(n.params, 'float32', [grp.size]),
      m: g.input(n.m, 'float32', [grp.size]),
      v: g.input(n.v, 'float32', [grp.size]),
      grad: flat[i],
      decays: grp.name === 'decay',
    });
    g.output(next.p, n.newParams);
    g.output(next.m, n.newM);
    g.output(next.v, n.newV);
  });
}
