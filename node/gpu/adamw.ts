// AdamW inside the step graph (Loshchilov & Hutter): global-norm gradient clipping, bias-corrected
// moments, decoupled weight decay. Only scalars cross the binding per step; parameters and moments
// go in as inputs and come back as outputs written into caller-owned buffers.
import type { Graph, Value } from './graph.ts';
import * as op from './ops.ts';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  maxGradNorm: number;
  /** Linear warmup of the learning rate over this many steps. */
  warmupSteps: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1, warmupSteps: 0 };

/** Names of the graph inputs/outputs that carry a parameter's optimizer state. */
export const stateNames = (name: string) => ({
  m: `adam_m.${name}`, v: `adam_v.${name}`, newParam: `new.${name}`, newM: `new_adam_m.${name}`, newV: `new_adam_v.${name}`,
});

/** Per-step scalars fed to the graph: lr with warmup and the bias corrections 1 - beta^t. */
export function adamwScalars(cfg: AdamWConfig, step: number): { lr: number; bc1: number; bc2: number } {
  const warm = cfg.warmupSteps > 0 ? Math.min(1, step / cfg.warmupSteps) : 1;
  return { lr: cfg.lr * warm, bc1: 1 - cfg.beta1 ** step, bc2: 1 - cfg.beta2 ** step };
}

/**
 * Emits one AdamW update for every (param, grad) pair, marking new params and moments as outputs,
 * plus `grad_norm` (before clipping). Weight decay applies to matrices only, not norms or vectors.
 */
export function adamwUpdate(g: Graph, params: Map<string, Value>, grads: Map<string, Value>, cfg: AdamWConfig): void {
  const lr = g.input('lr', 'float32', []);
  const bc1 = g.input('bc1', 'float32', []);
  const bc2 = g.input('bc2', 'float32', []);
  const c = (x: number) => g.scalar('float32', x);
  const sq = [...grads.values()].map((gr) => op.reduceSum(op.mul(gr, gr), [...gr.shape.keys()]));
  const norm = op.sqrt(sq.reduce((a, b) => op.add(a, b)));
  g.output(norm, 'grad_norm');
  const scale = cfg.maxGradNorm > 0 ? op.min(c(1), op.div(c(cfg.maxGradNorm), op.add(norm, c(1e-6)))) : c(1);
  const stepSize = op.div(lr, bc1);
  for (const [name, p] of params) {
    const n = stateNames(name);
    const m = g.input(n.m, 'float32', p.shape);
    const v = g.input(n.v, 'float32', p.shape);
    const gr = op.mul(grads.get(name)!, scale);
    const m2 = op.add(op.mul(m, c(cfg.beta1)), op.mul(gr, c(1 - cfg.beta1)));
    const v2 = op.add(op.mul(v, c(cfg.beta2)), op.mul(op.mul(gr, gr), c(1 - cfg.beta2)));
    // p - lr * (m_hat / (sqrt(v_hat) + eps) + wd * p), with m_hat = m/bc1, v_hat = v/bc2.
    const denom = op.add(op.sqrt(op.div(v2, bc2)), c(cfg.eps));
    let p2 = op.sub(p, op.mul(stepSize, op.div(m2, denom)));
    if (cfg.weightDecay > 0 && p.shape.length >= 2) p2 = op.sub(p2, op.mul(op.mul(lr, c(cfg.weightDecay)), p));
    g.output(p2, n.newParam);
    g.output(m2, n.newM);
    g.output(v2, n.newV);
  }
}
