// Writes a Qwen3 checkpoint with seeded random weights in the Hugging Face layout (config.json +
// model.safetensors): for benchmarks and tests that need a model of a given size.
import fs from 'node:fs';
import path from 'node:path';
import type { HostTensor } from '../../gpu/ort.ts';
import { writeSafetensors } from '../../gpu/safetensors.ts';
import type { Qwen3Config } from './checkpoint.ts';
import { rng } from './random.ts';

export type SyntheticConfig = Pick<
  Qwen3Config,
  'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim'
> & { tieWordEmbeddings?: boolean };

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

export function writeSyntheticCheckpoint(dir: string, c: SyntheticConfig, seed = 1): void {
  const next = rng(seed);
  // Uniform with the given standard deviation around `mean`.
  const t = (shape: number[], std: number, mean = 0): HostTensor => ({
    dtype: 'float32',
    shape,
    data: Float32Array.from(
      { length: shape.reduce((a, b) => a * b, 1) },
      () => mean + (next() * 2 - 1) * std * Math.sqrt(3),
    ),
  });
  const [h, q, kv] = [c.hiddenSize, c.numHeads * c.headDim, c.numKvHeads * c.headDim];
  const tensors: Record<string, HostTensor> = {
    'model.embed_tokens.weight': t([c.vocabSize, h], 0.02),
    'model.norm.weight': t([h], 0.1, 1),
  };
  if (!c.tieWordEmbeddings) tensors['lm_head.weight'] = t([c.vocabSize, h], 0.02);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    Object.assign(tensors, {
      [`${p}.self_attn.q_proj.weight`]: t([q, h], 0.02),
      [`${p}.self_attn.k_proj.weight`]: t([kv, h], 0.02),
      [`${p}.self_attn.v_proj.weight`]: t([kv, h], 0.02),
      [`${p}.self_attn.o_proj.weight`]: t([h, q], 0.02),
      [`${p}.self_attn.q_norm.weight`]: t([c.headDim], 0.1, 1),
      [`${p}.self_attn.k_norm.weight`]: t([c.headDim], 0.1, 1),
      [`${p}.mlp.gate_proj.weight`]: t([c.intermediateSize, h], 0.02),
      [`${p}.mlp.up_proj.weight`]: t([c.intermediateSize, h], 0.02),
      [`${p}.mlp.down_proj.weight`]: t([h, c.intermediateSize], 0.02),
      [`${p}.input_layernorm.weight`]: t([h], 0.1, 1),
      [`${p}.post_attention_layernorm.weight`]: t([h], 0.1, 1),
    });
  }
  const config = {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    vocab_size: c.vocabSize,
    hidden_size: h,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 4096,
    tie_word_embeddings: !!c.tieWordEmbeddings,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
    hidden_act: 'silu',
    attention_bias: false,
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
}
