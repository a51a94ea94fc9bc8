// Loads a Hugging Face Qwen3 checkpoint folder: config.json, then model.safetensors or the shards named by
// model.safetensors.index.json. Only headers are read here; every expected tensor is checked by name,
// shape and dtype so later stages can trust the layout.
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensorsHeader, type StDType, type TensorInfo } from '../../gpu/safetensors.ts';
import { ModelFormatError, ModelNotFoundError } from '../errors.ts';

export interface Qwen3Config {
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** config `head_dim`, else hidden / heads. */
  headDim: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  bosTokenId?: number;
  /** `eos_token_id`, a number or a list. */
  eosTokenIds: number[];
  maxPositionEmbeddings: number;
  torchDtype: string;
}

export interface Checkpoint {
  /** Absolute path of the folder. */
  dir: string;
  config: Qwen3Config;
  /** Every tensor of every shard, by HF name. */
  tensors: Map<string, TensorInfo>;
}

const ARCHITECTURE = 'Qwen3ForCausalLM';
const WEIGHT_DTYPES: StDType[] = ['F32', 'F16', 'BF16'];

export function loadCheckpoint(dir: string): Checkpoint {
  dir = path.resolve(dir);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ModelNotFoundError(
      `${dir}: no such checkpoint directory; pass a folder holding config.json and model.safetensors`,
    );
  }
  const config = parseConfig(path.join(dir, 'config.json'));
  const tensors = readTensors(dir);
  checkTensors(dir, config, tensors);
  return { dir, config, tensors };
}

/** Parameters of the model: every tensor's size (a tied lm_head that is also stored counts once). */
export function parameterCount(ckpt: Checkpoint): number {
  let n = 0;
  for (const [name, info] of ckpt.tensors) {
    if (name === 'lm_head.weight' && ckpt.config.tieWordEmbeddings) continue;
    n += info.shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

function readJson(file: string, what: string): Record<string, unknown> {
  if (!fs.existsSync(file))
    throw new ModelNotFoundError(`${file}: missing; a Hugging Face checkpoint folder needs its ${what}`);
  const text = fs.readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`${file}: not valid JSON (${(e as Error).message}); download the checkpoint again`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ModelFormatError(`${file}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function parseConfig(file: string): Qwen3Config {
  const c = readJson(file, 'config.json');
  const archs = Array.isArray(c.architectures) ? c.architectures : [];
  const modelType = c.model_type;
  if (
    (modelType === undefined && archs.length === 0) ||
    (modelType !== undefined && modelType !== 'qwen3') ||
    (archs.length > 0 && !archs.includes(ARCHITECTURE))
  ) {
    const named =
      [archs.join(', '), modelType === undefined ? '' : `model_type ${JSON.stringify(modelType)}`]
        .filter(Boolean)
        .join(', ') || 'none named';
    throw new ModelFormatError(
      `${file}: unsupported architecture (${named}); only Qwen3 checkpoints (${ARCHITECTURE}, model_type "qwen3") are supported`,
    );
  }
  checkImplemented(file, c);
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (!Number.isSafeInteger(v) || (v as number) <= 0)
      throw new ModelFormatError(`${file}: '${key}' must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0))
      throw new ModelFormatError(`${file}: '${key}' must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const ids = (key: string): number[] => {
    const v = c[key] ?? [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => Number.isSafeInteger(x) && x >= 0))
      throw new ModelFormatError(`${file}: '${key}' must be a token id or a list of them, got ${JSON.stringify(v)}`);
    return list as number[];
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0)
    throw new ModelFormatError(
      `${file}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`,
    );
  const headDim = int('head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0) throw new ModelFormatError(`${file}: head_dim ${headDim} must be even for rotary embeddings`);
  const [bos] = ids('bos_token_id');
  return {
    architecture: ARCHITECTURE,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    ropeTheta: num('rope_theta', 10000),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    tieWordEmbeddings: c.tie_word_embeddings === true,
    ...(bos === undefined ? {} : { bosTokenId: bos }),
    eosTokenIds: ids('eos_token_id'),
    maxPositionEmbeddings: int('max_position_embeddings', 32768),
    torchDtype: String(c.torch_dtype ?? c.dtype ?? 'float32'),
  };
}

/**
 * Refuses config settings that select a variant this engine does not implement (scaled RoPE, biases, sliding window,
 * other activations).
 */
function checkImplemented(file: string, c: Record<string, unknown>): void {
  const refuse = (setting: string, supported: string): never => {
    throw new ModelFormatError(`${file}: ${setting} is not supported; ${supported}`);
  };
  const show = (key: string) => `'${key}' ${JSON.stringify(c[key])}`;
  if (c.rope_scaling != null) refuse(show('rope_scaling'), 'only the default RoPE is implemented (rope_scaling null)');
  if (c.attention_bias != null && c.attention_bias !== false)
    refuse(show('attention_bias'), 'only bias-free attention projections are implemented (attention_bias false)');
  if (c.use_sliding_window != null && c.use_sliding_window !== false) {
    refuse(
      `${show('use_sliding_window')} (sliding_window ${JSON.stringify(c.sliding_window ?? null)})`,
      'only full causal attention is implemented (use_sliding_window false)',
    );
  }
  if (c.hidden_act != null && c.hidden_act !== 'silu')
    refuse(show('hidden_act'), "only the 'silu' activation is implemented");
}

function readTensors(dir: string): Map<string, TensorInfo> {
  const single = path.join(dir, 'model.safetensors');
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(indexFile)) {
    if (!fs.existsSync(single))
      throw new ModelNotFoundError(
        `${dir}: no model.safetensors or model.safetensors.index.json; only safetensors checkpoints are supported ` +
          `(convert or download the safetensors weights)`,
      );
    return readSafetensorsHeader(single);
  }
  const map = readJson(indexFile, 'shard index').weight_map;
  if (typeof map !== 'object' || map === null || Object.values(map).some((v) => typeof v !== 'string')) {
    throw new ModelFormatError(`${indexFile}: 'weight_map' must map tensor names to shard files`);
  }
  const headers = new Map<string, Map<string, TensorInfo>>();
  const tensors = new Map<string, TensorInfo>();
  for (const [name, shard] of Object.entries(map as Record<string, string>)) {
    const file = path.resolve(dir, shard);
    if (path.relative(dir, file).startsWith('..'))
      throw new ModelFormatError(`${indexFile}: shard '${shard}' lies outside the checkpoint folder`);
    let header = headers.get(file);
    if (!header) {
      if (!fs.existsSync(file))
        throw new ModelNotFoundError(
          `${file}: shard listed in model.safetensors.index.json is missing; download it again`,
        );
      header = readSafetensorsHeader(file);
      headers.set(file, header);
    }
    const info = header.get(name);
    if (!info)
      throw new ModelFormatError(
        `${file}: model.safetensors.index.json puts tensor '${name}' in this shard but it is not there`,
      );
    tensors.set(name, info);
  }
  return tensors;
}

/** The HF names and shapes a Qwen3ForCausalLM checkpoint must hold. */
function expectedShapes(c: Qwen3Config): Map<string, number[]> {
  const [H, I, V, q, kv] = [
    c.hiddenSize,
    c.intermediateSize,
    c.vocabSize,
    c.numHeads * c.headDim,
    c.numKvHeads * c.headDim,
  ];
  const shapes: [string, number[]][] = [
    ['model.embed_tokens.weight', [V, H]],
    ['model.norm.weight', [H]],
  ];
  if (!c.tieWordEmbeddings) shapes.push(['lm_head.weight', [V, H]]);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.self_attn.q_proj.weight`, [q, H]],
      [`${p}.self_attn.k_proj.weight`, [kv, H]],
      [`${p}.self_attn.v_proj.weight`, [kv, H]],
      [`${p}.self_attn.o_proj.weight`, [H, q]],
      [`${p}.self_attn.q_norm.weight`, [c.headDim]],
      [`${p}.self_attn.k_norm.weight`, [c.headDim]],
      [`${p}.mlp.gate_proj.weight`, [I, H]],
      [`${p}.mlp.up_proj.weight`, [I, H]],
      [`${p}.mlp.down_proj.weight`, [H, I]],
      [`${p}.input_layernorm.weight`, [H]],
      [`${p}.post_attention_layernorm.weight`, [H]],
    );
  }
  return new Map(shapes);
}

function checkTensors(dir: string, config: Qwen3Config, tensors: Map<string, TensorInfo>): void {
  for (const [name, shape] of expectedShapes(config)) {
    const info = tensors.get(name);
    if (!info) throw new ModelFormatError(`${dir}: tensor '${name}' is missing; the weights do not match config.json`);
    if (info.shape.join() !== shape.join()) {
      throw new ModelFormatError(
        `${info.file}: tensor '${name}' has shape [${info.shape.join(', ')}], config.json implies [${shape.join(', ')}]`,
      );
    }
    if (!WEIGHT_DTYPES.includes(info.dtype))
      throw new ModelFormatError(
        `${info.file}: tensor '${name}' has dtype ${info.dtype}; weights must be F32, F16 or BF16`,
      );
  }
}
