// Writes a Qwen3 checkpoint with seeded random weights in the Hugging Face layout (config.json +
// model.safetensors): for benchmarks and tests that need a model of a given size, up to the published
// Qwen3 shapes (their outputs are noise, but every real-size path runs on them).
import fs from 'node:fs';
import path from 'node:path';
import type { HostTensor } from '../../gpu/ort.ts';
import { writeSafetensors, writeSafetensorsFrom } from '../../gpu/safetensors.ts';
import type { Qwen3Config } from './checkpoint.ts';
import { rng } from './random.ts';

export type SyntheticConfig = Pick<
  Qwen3Config,
  'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim'
> &
  Partial<Pick<Qwen3Config, 'maxPositionEmbeddings' | 'bosTokenId' | 'eosTokenIds'>> & { tieWordEmbeddings?: boolean };

/** The benchmark model (bench/engine.ts): vocab 4096, hidden 256, intermediate 704, 4 layers, 8/4 heads of 32. */
export const BENCH_CONFIG: SyntheticConfig = {
  vocabSize: 4096,
  hiddenSize: 256,
  intermediateSize: 704,
  numLayers: 4,
  numHeads: 8,
  numKvHeads: 4,
  headDim: 32,
};

/** What every Qwen3 size shares: the vocabulary and its special ids, 8 KV heads of 128, the context. */
const QWEN3 = {
  vocabSize: 151936,
  numKvHeads: 8,
  headDim: 128,
  maxPositionEmbeddings: 40960,
  bosTokenId: 151643,
  eosTokenIds: [151645],
};

/** The published shapes of Qwen3 checkpoints (their config.json): random checkpoints `like` them measure real size. */
export const QWEN3_SHAPES: Record<string, SyntheticConfig> = {
  'qwen3-0.6b': {
    ...QWEN3,
    hiddenSize: 1024,
    intermediateSize: 3072,
    numLayers: 28,
    numHeads: 16,
    tieWordEmbeddings: true,
  },
  'qwen3-1.7b': {
    ...QWEN3,
    hiddenSize: 2048,
    intermediateSize: 6144,
    numLayers: 28,
    numHeads: 16,
    tieWordEmbeddings: true,
  },
  'qwen3-4b': {
    ...QWEN3,
    hiddenSize: 2560,
    intermediateSize: 9728,
    numLayers: 36,
    numHeads: 32,
    tieWordEmbeddings: true,
  },
  'qwen3-8b': { ...QWEN3, hiddenSize: 4096, intermediateSize: 12288, numLayers: 36, numHeads: 32 },
};

/** One tensor of a Qwen3 checkpoint: HF name, shape, and the spread of its random values around `mean`. */
interface RandomTensor {
  name: string;
  shape: number[];
  std: number;
  mean: number;
}

/** Every tensor of a Qwen3 checkpoint of shape `c`, in the order a small checkpoint draws them. */
function qwen3Tensors(c: SyntheticConfig): RandomTensor[] {
  const [h, q, kv] = [c.hiddenSize, c.numHeads * c.headDim, c.numKvHeads * c.headDim];
  const w = (name: string, shape: number[]): RandomTensor => ({ name, shape, std: 0.02, mean: 0 });
  const norm = (name: string, size: number): RandomTensor => ({ name, shape: [size], std: 0.1, mean: 1 });
  const head = c.tieWordEmbeddings ? [] : [w('lm_head.weight', [c.vocabSize, h])];
  const layers = Array.from({ length: c.numLayers }, (_, l) => {
    const p = `model.layers.${l}`;
    return [
      w(`${p}.self_attn.q_proj.weight`, [q, h]),
      w(`${p}.self_attn.k_proj.weight`, [kv, h]),
      w(`${p}.self_attn.v_proj.weight`, [kv, h]),
      w(`${p}.self_attn.o_proj.weight`, [h, q]),
      norm(`${p}.self_attn.q_norm.weight`, c.headDim),
      norm(`${p}.self_attn.k_norm.weight`, c.headDim),
      w(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, h]),
      w(`${p}.mlp.up_proj.weight`, [c.intermediateSize, h]),
      w(`${p}.mlp.down_proj.weight`, [h, c.intermediateSize]),
      norm(`${p}.input_layernorm.weight`, h),
      norm(`${p}.post_attention_layernorm.weight`, h),
    ];
  });
  return [w('model.embed_tokens.weight', [c.vocabSize, h]), norm('model.norm.weight', h), ...head, ...layers.flat()];
}

/** The parameters of a Qwen3 checkpoint of shape `c` (a tied head counted once, as parameterCount does). */
export function shapeParameters(c: SyntheticConfig): number {
  return qwen3Tensors(c).reduce((sum, t) => sum + count(t.shape), 0);
}

/** Uniform with the tensor's standard deviation around its mean. */
const draw = (t: RandomTensor, next: () => number) => t.mean + (next() * 2 - 1) * t.std * Math.sqrt(3);

/**
 * A small float32 checkpoint held in memory while written, its values drawn from one seeded stream in the order of
 * qwen3Tensors (the embedded agents were initialised so).
 */
export function writeSyntheticCheckpoint(dir: string, c: SyntheticConfig, seed = 1): void {
  const next = rng(seed);
  const tensors: Record<string, HostTensor> = {};
  for (const t of qwen3Tensors(c)) {
    const data = Float32Array.from({ length: count(t.shape) }, () => draw(t, next));
    tensors[t.name] = { dtype: 'float32', shape: t.shape, data };
  }
  writeConfig(dir, c, 'float32');
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
}

/** Values drawn and written at a time: a checkpoint of any size is written in bounded memory. */
const CHUNK = 1 << 20;

/**
 * A checkpoint of any size, written as it is drawn: each tensor from its own seeded stream, in bfloat16 (as Qwen3
 * is published) or float32. `progress` hears the bytes written so far and in all.
 */
export function writeRandomCheckpoint(
  dir: string,
  c: SyntheticConfig,
  o: { dtype: 'bfloat16' | 'float32'; seed?: number; progress?: (done: number, total: number) => void },
): void {
  const tensors = qwen3Tensors(c);
  const bytes = o.dtype === 'bfloat16' ? 2 : 4;
  const total = tensors.reduce((sum, t) => sum + count(t.shape) * bytes, 0);
  let done = 0;
  function* chunks(t: RandomTensor, index: number): Generator<ArrayBufferView> {
    const next = rng((o.seed ?? 1) * 7919 + index);
    const n = count(t.shape);
    for (let at = 0; at < n; at += CHUNK) {
      const values = new Float32Array(Math.min(CHUNK, n - at));
      for (let i = 0; i < values.length; i++) values[i] = draw(t, next);
      done += values.length * bytes;
      o.progress?.(done, total);
      yield o.dtype === 'bfloat16' ? toBfloat16(values) : values;
    }
  }
  const index = new Map(tensors.map((t, i) => [t.name, i]));
  const specs = tensors.map((t) => ({ name: t.name, dtype: o.dtype, shape: t.shape }));
  writeConfig(dir, c, o.dtype);
  writeSafetensorsFrom(path.join(dir, 'model.safetensors'), specs, (name) =>
    chunks(tensors[index.get(name)!], index.get(name)!),
  );
}

/** float32 values rounded to bfloat16 (to nearest, ties to even), as 16-bit words. */
export function toBfloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16;
  return out;
}

function writeConfig(dir: string, c: SyntheticConfig, dtype: 'bfloat16' | 'float32'): void {
  const config = {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    max_position_embeddings: c.maxPositionEmbeddings ?? 4096,
    tie_word_embeddings: !!c.tieWordEmbeddings,
    bos_token_id: c.bosTokenId ?? 1,
    eos_token_id: c.eosTokenIds ?? 2,
    torch_dtype: dtype,
    hidden_act: 'silu',
    attention_bias: false,
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
