// AdamW inside the step graph (Loshchilov & Hutter): global-norm gradient clipping, bias-corrected
// moments, decoupled weight decay. Parameters live in two flat buffers (matrices, which decay, and
// vectors, which do not), so the update is a dozen passes over two long vectors instead of a dozen
// small ops per tensor. The graph reads each parameter as a view of its group's buffer, and the
// group buffer itself; new parameters and moments come back into caller-owned buffers.
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

/**
 * Emits one AdamW update of every group from the parameters' gradients: inputs `lr`, `bc1`, `bc2`
 * and per group the flat parameters and moments; outputs per group the new flat parameters and
 * moments, and `grad_norm` (before clipping).
 */
export function adamwUpdate(
  g: Graph,
  groups: readonly ParamGroup[],
  grads: ReadonlyMap<string, Value>,
  cfg: AdamWConfig,
): void {
  adamwFromFlat(g, groups, flatGradients(groups, grads), cfg);
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

/** adamwUpdate from each group's flat gradient (`flat[i]` for `groups[i]`), e.g. one summed over micro-batches. */
export function adamwFromFlat(g: Graph, groups: readonly ParamGroup[], flat: readonly Value[], cfg: AdamWConfig): void {
  const lr = g.input('lr', 'float32', []);
  const bc1 = g.input('bc1', 'float32', []);
  const bc2 = g.input('bc2', 'float32', []);
  const c = (x: number) => g.scalar('float32', x);
  const sumSq = flat.map((f) => op.reduceSumSquare(f)).reduce((a, b) => op.add(a, b));
  const norm = op.sqrt(sumSq);
  g.output(norm, 'grad_norm');
  const scale = cfg.maxGradNorm > 0 ? op.min(c(1), op.div(c(cfg.maxGradNorm), op.add(norm, c(1e-6)))) : c(1);
  // PyTorch's arrangement: p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
  //                          = (lr sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2)).
  const rootBc2 = op.sqrt(bc2);
  const stepSize = op.div(op.mul(lr, rootBc2), bc1);
  const eps = op.mul(c(cfg.eps), rootBc2);
  groups.forEach((grp, i) => {
    const n = groupNames(grp.name);
    const p = g.input(n.params, 'float32', [grp.size]);
    const m = g.input(n.m, 'float32', [grp.size]);
    const v = g.input(n.v, 'float32', [grp.size]);
    const gr = flat[i];
    const m2 = op.add(op.mul(m, c(cfg.beta1)), op.mul(gr, op.mul(scale, c(1 - cfg.beta1))));
    const v2 = op.add(op.mul(v, c(cfg.beta2)), op.mul(op.mul(gr, gr), op.mul(op.mul(scale, scale), c(1 - cfg.beta2))));
    const update = op.mul(op.div(m2, op.add(op.sqrt(v2), eps)), stepSize);
    const decayed =
      grp.name === 'decay' && cfg.weightDecay > 0 ? op.mul(p, op.sub(c(1), op.mul(lr, c(cfg.weightDecay)))) : p;
    g.output(op.sub(decayed, update), n.newParams);
    g.output(m2, n.newM);
    g.output(v2, n.newV);
  });
}
