// Real-size engine benchmark: `npm run bench:model -- --model <dir>` loads any Qwen3 checkpoint (e.g. one from
// `sat-peer model init --like qwen3-0.6b`) and prints one JSON line: how long reading the weights takes (load_s) and
// the first token from a cold start (first_token_s: weights read, sessions built, one prefill), decode rates at batch
// 1 and 8 (tokens after the first over the time after the prefill, as llama.cpp's tg), the prefill's time, a LoRA
// train step's rate at batch 4 x 256 (rank 8 on q/k/v/o and the MLP), and the process's peak resident memory.
// BENCH_THREADS, BENCH_RUNS (default 3) and BENCH_DEVICE as for bench:engine; --no-train skips the train step.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadCheckpoint } from '../node/agent/model/checkpoint.ts';
import { Generator } from '../node/agent/model/generate.ts';
import { rng } from '../node/agent/model/random.ts';
import { padBatch } from '../node/agent/model/score.ts';
import { sftLoss } from '../node/agent/train/losses.ts';
import { Trainer } from '../node/agent/train/trainer.ts';
import { DeviceError } from '../node/gpu/errors.ts';
import type { Device, HostTensor } from '../node/gpu/ort.ts';
import { decodeWeightBytes, matmulGflops, readGbps, median as timedMedian } from './yardsticks.ts';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DEVICE = (process.env.BENCH_DEVICE ?? 'cpu') as Device;
const LORA = {
  rank: 8,
  alpha: 16,
  targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
};

const RUNS_OF = { warmup: 1, runs: RUNS };
const YARDSTICK_RUNS = { warmup: 3, runs: 10 };
const median = (fn: () => Promise<unknown>) => timedMedian(fn, RUNS_OF);

const seconds = (since: number) => +((performance.now() - since) / 1000).toFixed(2);
const gib = (kb: number) => +(kb / 2 ** 20).toFixed(2);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, 'no-train': { type: 'boolean' } } });
  if (!values.model) {
    console.error('bench:model: --model <dir> names the checkpoint (sat-peer model init --like qwen3-0.6b makes one)');
    process.exit(2);
  }
  const session = { threads: THREADS, device: DEVICE };
  // Measured first, before the model's gigabytes crowd the machine's memory.
  const yardsticks = {
    matmul: await matmulGflops(session, YARDSTICK_RUNS),
    read: await readGbps(session, YARDSTICK_RUNS),
    memoryRead: await readGbps(session, YARDSTICK_RUNS, 256),
  };
  const t0 = performance.now();
  const ckpt = loadCheckpoint(values.model);
  const gen = new Generator(ckpt, session);
  await gen.loadWeights();
  const loadS = seconds(t0);
  const next = rng(2);
  const token = () => 3 + Math.floor(next() * (ckpt.config.vocabSize - 3));
  const prompts = (b: number) => Array.from({ length: b }, () => Array.from({ length: 16 }, token));

  await gen.generate(prompts(1), { maxNewTokens: 1 });
  const firstTokenS = seconds(t0);
  // Decoding as llama.cpp's tg measures it: the tokens after the first, over the time after the prefill.
  const NEW = 32;
  const decodeRate = async (b: number) => {
    const ps = prompts(b);
    const prefill = await median(() => gen.generate(ps, { maxNewTokens: 1 }));
    const whole = await median(() => gen.generate(ps, { maxNewTokens: NEW }));
    return { rate: (b * (NEW - 1)) / (whole - prefill), prefill };
  };
  const b1 = await decodeRate(1);
  const b8 = await decodeRate(8);
  await gen.release();
  const afterGenerate = process.resourceUsage().maxRSS;

  let train: Record<string, number> = {};
  if (!values['no-train']) {
    const [B, T] = [4, 256];
    const rows = Array.from({ length: B }, () => Array.from({ length: T }, token));
    const { ids, mask } = padBatch(rows);
    const lossMask: HostTensor = { dtype: 'float32', shape: [B, T - 1], data: new Float32Array(B * (T - 1)).fill(1) };
    const trainer = Trainer.create(ckpt, { loss: sftLoss, trainable: { kind: 'lora', lora: LORA }, session });
    const stepS = await median(() =>
      trainer.trainStep({ batch: B, seq: T, inputIds: ids, attentionMask: mask, extra: { loss_mask: lossMask } }),
    );
    await trainer.release();
    train = { lora_train_tokens_per_s: Math.round((B * T) / stepS), lora_train_step_s: +stepS.toFixed(2) };
  }
  console.log(
    JSON.stringify({
      model: ckpt.dir,
      load_s: loadS,
      first_token_s: firstTokenS,
      generate_b1_tokens_per_s: +b1.rate.toFixed(2),
      generate_b8_tokens_per_s: +b8.rate.toFixed(2),
      // The weights batch-1 decoding streams a second, to hold against ort_memory_read_gb_per_s.
      generate_b1_weights_gb_per_s: +((b1.rate * decodeWeightBytes(ckpt.config)) / 1e9).toFixed(1),
      prefill_b1x16_s: +b1.prefill.toFixed(3),
      prefill_b8x16_s: +b8.prefill.toFixed(3),
      ...train,
      peak_rss_generate_gib: gib(afterGenerate),
      peak_rss_gib: gib(process.resourceUsage().maxRSS),
      ort_matmul_gflops_per_s: +yardsticks.matmul.toFixed(1),
      ort_read_gb_per_s: +yardsticks.read.toFixed(1),
      ort_memory_read_gb_per_s: +yardsticks.memoryRead.toFixed(1),
      threads: THREADS,
      runs: RUNS,
      device: DEVICE,
    }),
  );
}

await main().catch((e: unknown) => {
  if (!(e instanceof DeviceError)) throw e;
  console.error(`bench:model: ${e.message}`);
  process.exit(2);
});
