// Engine benchmark: train step and KV-cache generation throughput on a random-weight
// Qwen3 (vocab 4096, hidden 256, intermediate 704, 4 layers, 8 heads, 4 KV heads, head_dim 32, untied,
// float32). Prints one JSON line. Median of 10 runs after 3 warm-ups, 2 intra-op threads, and the
// machine's MatMul GFLOP/s beside them so that runs on different days can be compared. The peer_
// numbers are the same work run as a peer runs it: on the session worker, with trainable weights.
// BENCH_DEVICE=cuda runs every session on the CUDA EP (BENCH_THREADS and BENCH_RUNS set the others).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeviceError } from '../node/gpu/errors.ts';
import type { Device, HostTensor } from '../node/gpu/ort.ts';
import { loadCheckpoint } from '../node/agent/model/checkpoint.ts';
import { Generator } from '../node/agent/model/generate.ts';
import { sftLoss } from '../node/agent/train/losses.ts';
import { rng } from '../node/agent/model/random.ts';
import { BENCH_CONFIG, writeSyntheticCheckpoint } from '../node/agent/model/random-checkpoint.ts';
import { padBatch } from '../node/agent/model/score.ts';
import { Trainer } from '../node/agent/train/trainer.ts';
import { decodeWeightBytes, matmulGflops, readGbps, median as timedMedian } from './yardsticks.ts';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const DEVICE = (process.env.BENCH_DEVICE ?? 'cpu') as Device;
if (DEVICE !== 'cpu' && DEVICE !== 'cuda') {
  console.error(`bench:engine: BENCH_DEVICE must be cpu or cuda, not '${DEVICE}'`);
  process.exit(2);
}
const WARMUP = 3;
const RUNS = Number(process.env.BENCH_RUNS ?? 10);

const RUNS_OF = { warmup: WARMUP, runs: RUNS };
const median = (fn: () => Promise<unknown>) => timedMedian(fn, RUNS_OF);

/** Matmul FLOPs of one training step: forward (projections, attention, head) x 3 for forward + backward. */
function trainFlops(b: number, t: number): number {
  const c = BENCH_CONFIG;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const perToken =
    c.numLayers * (c.hiddenSize * (2 * q + 2 * kv) + 3 * c.hiddenSize * c.intermediateSize) +
    c.hiddenSize * c.vocabSize;
  const attention = c.numLayers * 2 * c.numHeads * t * t * c.headDim; // QK^T and PV, MACs per row
  return 3 * 2 * (b * t * perToken + b * attention);
}

/**
 * Bytes of weights one decode step reads: every matrix but the embedding table, of which it gathers one row per
 * token.
 */
async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sat-bench-'));
  writeSyntheticCheckpoint(dir, BENCH_CONFIG);
  const ckpt = loadCheckpoint(dir);
  const session = { threads: THREADS, device: DEVICE };
  const next = rng(2);
  const [B, T] = [8, 128];
  const rows = Array.from({ length: B }, () =>
    Array.from({ length: T }, () => 3 + Math.floor(next() * (BENCH_CONFIG.vocabSize - 3))),
  );
  const { ids, mask } = padBatch(rows);
  const trainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 1e-4 }, session });
  const lossMask: HostTensor = { dtype: 'float32', shape: [B, T - 1], data: new Float32Array(B * (T - 1)).fill(1) };
  const trainS = await median(() =>
    trainer.trainStep({ batch: B, seq: T, inputIds: ids, attentionMask: mask, extra: { loss_mask: lossMask } }),
  );
  await trainer.release();

  const gen = new Generator(ckpt, session);
  const prompt = () => Array.from({ length: 16 }, () => 3 + Math.floor(next() * (BENCH_CONFIG.vocabSize - 3)));
  const NEW = 64;
  const genRate = async (b: number) => {
    const prompts = Array.from({ length: b }, prompt);
    const s = await median(() => gen.generate(prompts, { maxNewTokens: NEW }));
    return (b * NEW) / s;
  };
  const b1 = await genRate(1);
  const b8 = await genRate(8);
  await gen.release();

  // The same as a peer runs it: sessions on the session worker (its network loop stays free), the
  // trainer's state lent there, and generation reading the trainer's weights (pinned there).
  const peer = { ...session, inWorker: true };
  const peerTrainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 1e-4 }, session: peer });
  const peerTrainS = await median(() =>
    peerTrainer.trainStep({ batch: B, seq: T, inputIds: ids, attentionMask: mask, extra: { loss_mask: lossMask } }),
  );
  const peerGen = new Generator(ckpt, peer, peerTrainer.paramSource());
  const peerPrompts = Array.from({ length: 8 }, prompt);
  const peerB8 = (8 * NEW) / (await median(() => peerGen.generate(peerPrompts, { maxNewTokens: NEW })));
  await peerGen.release();
  await peerTrainer.release();
  fs.rmSync(dir, { recursive: true, force: true });
  const yardstick = await matmulGflops(session, RUNS_OF);
  const read = await readGbps(session, RUNS_OF);
  console.log(
    JSON.stringify({
      train_tokens_per_s: Math.round((B * T) / trainS),
      train_step_ms: +(trainS * 1000).toFixed(1),
      train_gflops_per_s: +(trainFlops(B, T) / trainS / 1e9).toFixed(1),
      generate_b1_tokens_per_s: Math.round(b1),
      generate_b8_tokens_per_s: Math.round(b8),
      peer_train_tokens_per_s: Math.round((B * T) / peerTrainS),
      peer_generate_b8_tokens_per_s: Math.round(peerB8),
      ort_matmul_gflops_per_s: +yardstick.toFixed(1),
      ort_read_gb_per_s: +read.toFixed(1),
      // The most batch-1 decoding could reach here if every kernel but the weights' reads cost nothing.
      generate_b1_ceiling_tokens_per_s: Math.round((read * 1e9) / decodeWeightBytes(BENCH_CONFIG)),
      threads: THREADS,
      runs: RUNS,
      device: DEVICE,
    }),
  );
}

await main().catch((e: unknown) => {
  if (!(e instanceof DeviceError)) throw e;
  console.error(`bench:engine: ${e.message}`);
  process.exit(2);
});
