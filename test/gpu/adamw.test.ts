// The in-graph AdamW against a plain reference of the same update rule (PyTorch's AdamW semantics).
import test from 'ava';
import { Graph } from '../../node/gpu/graph.ts';
import { gradients } from '../../node/gpu/autodiff.ts';
import { type AdamWConfig, adamwScalars, adamwUpdate, tensorNames, paramGroups } from '../../node/gpu/adamw.ts';
import type { HostTensor } from '../../node/gpu/ort.ts';
import { Session } from '../../node/gpu/ort.ts';
import * as op from '../../node/gpu/ops.ts';

/** One AdamW step for a flat parameter list (all treated as one matrix group when `decay`). */
function referenceStep(
  cfg: AdamWConfig,
  t: number,
  p: number[][],
  grads: number[][],
  m: number[][],
  v: number[][],
  decay: boolean[],
): number {
  const norm = Math.sqrt(grads.flat().reduce((s, x) => s + x * x, 0));
  const scale = cfg.maxGradNorm > 0 ? Math.min(1, cfg.maxGradNorm / (norm + 1e-6)) : 1;
  const lr = cfg.lr * (cfg.warmupSteps > 0 ? Math.min(1, t / cfg.warmupSteps) : 1);
  p.forEach((ps, j) =>
    ps.forEach((x, i) => {
      const gr = grads[j][i] * scale;
      m[j][i] = cfg.beta1 * m[j][i] + (1 - cfg.beta1) * gr;
      v[j][i] = cfg.beta2 * v[j][i] + (1 - cfg.beta2) * gr * gr;
      const mh = m[j][i] / (1 - cfg.beta1 ** t);
      const vh = v[j][i] / (1 - cfg.beta2 ** t);
      ps[i] = x - lr * (mh / (Math.sqrt(vh) + cfg.eps) + (decay[j] ? cfg.weightDecay * x : 0));
    }),
  );
  return norm;
}

test('AdamW with clipping, warmup and decoupled weight decay matches the reference over several steps', async (t) => {
  const cfg: AdamWConfig = {
    lr: 0.05,
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
    weightDecay: 0.1,
    maxGradNorm: 0.5,
    warmupSteps: 2,
  };
  const g = new Graph();
  const w = g.input('w', 'float32', [2, 2]);
  const b = g.input('b', 'float32', [2]);
  // loss = sum((w @ x + b - y)^2), so gradients change as the parameters move.
  const x = g.constant('float32', [2, 1], [1, -2]);
  const y = g.constant('float32', [2, 1], [0.5, 3]);
  const r = op.sub(op.add(op.matmul(w, x), op.unsqueeze(b, [1])), y);
  const loss = op.reduceSum(op.mul(r, r), [0, 1]);
  g.output(loss, 'loss');
  const [gw, gb] = gradients(loss, [w, b]);
  const groups = paramGroups([
    ['w', [2, 2]],
    ['b', [2]],
  ]);
  t.deepEqual(
    groups.map((x) => [x.name, x.size]),
    [
      ['decay', 4],
      ['no_decay', 2],
    ],
  );
  adamwUpdate(
    g,
    groups,
    new Map([
      ['w', w],
      ['b', b],
    ]),
    new Map([
      ['w', gw],
      ['b', gb],
    ]),
    cfg,
  );
  const s = await Session.create(g.toBytes());

  const p = [
    [0.3, -0.2, 0.1, 0.4],
    [0.05, -0.1],
  ];
  const m = [
    [0, 0, 0, 0],
    [0, 0],
  ];
  const v = [
    [0, 0, 0, 0],
    [0, 0],
  ];
  // Our flat state per group: decay = [w], no_decay = [b].
  let ours: Record<'p' | 'm' | 'v', Float32Array[]> = {
    p: p.map((a) => Float32Array.from(a)),
    m: p.map((a) => new Float32Array(a.length)),
    v: p.map((a) => new Float32Array(a.length)),
  };
  for (let step = 1; step <= 4; step++) {
    // Reference gradients at the current parameters.
    const res = [p[0][0] * 1 + p[0][1] * -2 + p[1][0] - 0.5, p[0][2] * 1 + p[0][3] * -2 + p[1][1] - 3];
    const grads = [
      [2 * res[0], -4 * res[0], 2 * res[1], -4 * res[1]],
      [2 * res[0], 2 * res[1]],
    ];
    const sc = adamwScalars(cfg, step);
    const f32 = (data: Float32Array, shape: number[]): HostTensor => ({ dtype: 'float32', shape, data });
    const feeds: Record<string, HostTensor> = {
      lr: f32(Float32Array.of(sc.lr), []),
      bc1: f32(Float32Array.of(sc.bc1), []),
      bc2: f32(Float32Array.of(sc.bc2), []),
      w: f32(ours.p[0], [2, 2]),
      b: f32(ours.p[1], [2]),
    };
    const tensors = [
      ['w', [2, 2]],
      ['b', [2]],
    ] as const;
    tensors.forEach(([name, shape], j) => {
      const n = tensorNames(name);
      Object.assign(feeds, { [n.m]: f32(ours.m[j], [...shape]), [n.v]: f32(ours.v[j], [...shape]) });
    });
    const out = await s.run(feeds);
    const norm = referenceStep(cfg, step, p, grads, m, v, [true, false]);
    t.true(Math.abs(Number(out.grad_norm.data[0]) - norm) < 1e-4 * (1 + norm), `step ${step} grad norm`);
    const at = (name: 'newParams' | 'newM' | 'newV') =>
      ['w', 'b'].map((tensor) => out[tensorNames(tensor)[name]].data as Float32Array);
    ours = { p: at('newParams'), m: at('newM'), v: at('newV') };
    p.forEach((ps, j) =>
      ps.forEach((want, i) =>
        t.true(Math.abs(ours.p[j][i] - want) < 1e-5, `step ${step} param ${j}[${i}]: ${ours.p[j][i]} vs ${want}`),
      ),
    );
  }
});

test('warmup scales the learning rate linearly, bias corrections follow the step', (t) => {
  const cfg: AdamWConfig = {
    lr: 1,
    beta1: 0.5,
    beta2: 0.75,
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 0,
    warmupSteps: 4,
  };
  t.deepEqual(adamwScalars(cfg, 1), { lr: 0.25, bc1: 0.5, bc2: 0.25 });
  t.is(adamwScalars(cfg, 8).lr, 1);
});
