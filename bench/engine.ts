// Engine benchmark (issue 2 §7): train step and KV-cache generation throughput on a random-weight
// Qwen3 (vocab 4096, hidden 256, intermediate 704, 4 layers, 8 heads, 4 KV heads, head_dim 32, untied,
// float32). Prints one JSON line. Median of 10 runs after 3 warm-ups, 2 intra-op threads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeSafetensors } from '../node/gpu/safetensors.ts';
import type { HostTensor } from '../node/gpu/ort.ts';
import { loadCheckpoint } from '../node/agent/checkpoint.ts';
import { Generator } from '../node/agent/generate.ts';
import { sftLoss } from '../node/agent/losses.ts';
import { rng } from '../node/agent/random.ts';
import { padBatch } from '../node/agent/score.ts';
import { Trainer } from '../node/agent/train.ts';

const CONFIG = {
  architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', vocab_size: 4096, hidden_size: 256, intermediate_size: 704,
  num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 32, rope_theta: 1000000,
  rms_norm_eps: 1e-6, max_position_embeddings: 512, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  torch_dtype: 'float32', hidden_act: 'silu', attention_bias: false,
};
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const WARMUP = 3;
const RUNS = Number(process.env.BENCH_RUNS ?? 10);

/** Writes a random-weight checkpoint of CONFIG into a temp dir. */
function makeCheckpoint(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sat-bench-'));
  const c = CONFIG;
  const next = rng(1);
  const t = (shape: number[], std: number, mean = 0): HostTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => mean + (next() * 2 - 1) * std * Math.sqrt(3)) };
  };
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const tensors: Record<string, HostTensor> = {
    'model.embed_tokens.weight': t([c.vocab_size, c.hidden_size], 0.02),
    'model.norm.weight': t([c.hidden_size], 0.1, 1),
    'lm_head.weight': t([c.vocab_size, c.hidden_size], 0.02),
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    Object.assign(tensors, {
      [`${p}.self_attn.q_proj.weight`]: t([q, c.hidden_size], 0.02),
      [`${p}.self_attn.k_proj.weight`]: t([kv, c.hidden_size], 0.02),
      [`${p}.self_attn.v_proj.weight`]: t([kv, c.hidden_size], 0.02),
      [`${p}.self_attn.o_proj.weight`]: t([c.hidden_size, q], 0.02),
      [`${p}.self_attn.q_norm.weight`]: t([c.head_dim], 0.1, 1),
      [`${p}.self_attn.k_norm.weight`]: t([c.head_dim], 0.1, 1),
      [`${p}.mlp.gate_proj.weight`]: t([c.intermediate_size, c.hidden_size], 0.02),
      [`${p}.mlp.up_proj.weight`]: t([c.intermediate_size, c.hidden_size], 0.02),
      [`${p}.mlp.down_proj.weight`]: t([c.hidden_size, c.intermediate_size], 0.02),
      [`${p}.input_layernorm.weight`]: t([c.hidden_size], 0.1, 1),
      [`${p}.post_attention_layernorm.weight`]: t([c.hidden_size], 0.1, 1),
    });
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(CONFIG, null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Matmul FLOPs of one training step: forward (projections, attention, head) x 3 for forward + backward. */
function trainFlops(b: number, t: number): number {
  const c = CONFIG;
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const perToken = c.num_hidden_layers * (c.hidden_size * (2 * q + 2 * kv) + 3 * c.hidden_size * c.intermediate_size) + c.hidden_size * c.vocab_size;
  const attention = c.num_hidden_layers * 2 * c.num_attention_heads * t * t * c.head_dim; // QK^T and PV, MACs per row
  return 3 * 2 * (b * t * perToken + b * attention);
}

async function main(): Promise<void> {
  const dir = makeCheckpoint();
  const ckpt = loadCheckpoint(dir);
  const session = { threads: THREADS };
  const next = rng(2);
  const [B, T] = [8, 128];
  const rows = Array.from({ length: B }, () => Array.from({ length: T }, () => 3 + Math.floor(next() * (CONFIG.vocab_size - 3))));
  const { ids, mask } = padBatch(rows);
  const trainer = Trainer.create(ckpt, { loss: sftLoss, optimizer: { lr: 1e-4 }, session });
  const lossMask: HostTensor = { dtype: 'float32', shape: [B, T - 1], data: new Float32Array(B * (T - 1)).fill(1) };
  const trainS = await median(() => trainer.trainStep({ batch: B, seq: T, inputIds: ids, attentionMask: mask, extra: { loss_mask: lossMask } }));
  await trainer.release();

  const gen = new Generator(ckpt, session);
  const prompt = () => Array.from({ length: 16 }, () => 3 + Math.floor(next() * (CONFIG.vocab_size - 3)));
  const NEW = 64;
  const genRate = async (b: number) => {
    const prompts = Array.from({ length: b }, prompt);
    const s = await median(() => gen.generate(prompts, { maxNewTokens: NEW }));
    return (b * NEW) / s;
  };
  const b1 = await genRate(1);
  const b8 = await genRate(8);
  await gen.release();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({
    train_tokens_per_s: Math.round((B * T) / trainS),
    train_step_ms: +(trainS * 1000).toFixed(1),
    train_gflops_per_s: +(trainFlops(B, T) / trainS / 1e9).toFixed(1),
    generate_b1_tokens_per_s: Math.round(b1),
    generate_b8_tokens_per_s: Math.round(b8),
    threads: THREADS,
    runs: RUNS,
  }));
}

await main();
