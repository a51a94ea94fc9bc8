// What the benchmarks share: a median of timed runs, and the machine's two yardsticks measured on the same
// threads, so that runs on different days and machines can be compared by their ratio to them.
import { performance } from 'node:perf_hooks';
import { Graph } from '../node/gpu/graph.ts';
import * as op from '../node/gpu/ops.ts';
import type { Qwen3Config } from '../node/agent/model/checkpoint.ts';
import { type HostTensor, Session, type SessionOptions } from '../node/gpu/ort.ts';

/** Median seconds of `runs` calls after `warmup` untimed ones. */
export async function median(fn: () => Promise<unknown>, { warmup, runs }: { warmup: number; runs: number }) {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * GFLOP/s of one float32 1024^3 MatMul in onnxruntime. Shared VMs vary by 2x from day to day; the ratio of a
 * benchmark's numbers to this one does not.
 */
export async function matmulGflops(session: SessionOptions, runs: { warmup: number; runs: number }): Promise<number> {
  const n = 1024;
  const g = new Graph('yardstick');
  g.output(op.matmul(g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])), 'y');
  const s = await Session.create(g.toBytes(), session);
  const m: HostTensor = { dtype: 'float32', shape: [n, n], data: new Float32Array(n * n).fill(0.5) };
  const out: HostTensor = { dtype: 'float32', shape: [n, n], data: new Float32Array(n * n) };
  const seconds = await median(() => s.run({ a: m, b: m }, { y: out }), runs);
  await s.release();
  return (2 * n ** 3) / seconds / 1e9;
}

/**
 * GB/s at which onnxruntime streams `mib` MiB of float32 (a ReduceSum). A batch-1 decode step reads every weight once
 * and reuses none, so it cannot beat this read of as many bytes: 16 MiB stays in a server's last-level cache, a
 * real-size model's gigabytes come from memory.
 */
export async function readGbps(
  session: SessionOptions,
  runs: { warmup: number; runs: number },
  mib = 16,
): Promise<number> {
  const cols = 4096;
  const rows = (mib * 2 ** 20) / 4 / cols;
  const g = new Graph('read');
  g.output(op.reduceSum(g.input('x', 'float32', [rows, cols]), [1]), 'y');
  const s = await Session.create(g.toBytes(), { ...session, spin: true });
  const x: HostTensor = { dtype: 'float32', shape: [rows, cols], data: new Float32Array(rows * cols).fill(0.5) };
  const seconds = await median(() => s.run({ x }), runs);
  await s.release();
  return (rows * cols * 4) / seconds / 1e9;
}

/** Bytes of float32 weights one batch-1 decode step reads: every layer's projections and the head. */
export function decodeWeightBytes(
  c: Pick<
    Qwen3Config,
    'numHeads' | 'numKvHeads' | 'headDim' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'vocabSize'
  >,
): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const perLayer = c.hiddenSize * (2 * q + 2 * kv) + 3 * c.hiddenSize * c.intermediateSize;
  return 4 * (c.numLayers * perLayer + c.hiddenSize * c.vocabSize);
}
