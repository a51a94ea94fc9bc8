import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCheckpoint, parameterCount } from '../../../node/agent/model/checkpoint.ts';
import type { HostTensor } from '../../../node/gpu/ort.ts';
import { readSafetensorsHeader, readTensor, toFloat32, writeSafetensors } from '../../../node/gpu/safetensors.ts';
import { tempDir } from '../../temp-dir.ts';

const DIR = new URL('../../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const CONFIG = JSON.parse(fs.readFileSync(path.join(DIR, 'config.json'), 'utf8'));
const HEADER = readSafetensorsHeader(path.join(DIR, 'model.safetensors'));
const TENSORS: Record<string, HostTensor> = Object.fromEntries([...HEADER].map(([n, i]) => [n, readTensor(i)]));

/** A temp checkpoint folder with `config` and `tensors` written as model.safetensors. */
function checkpointDir(config: object = CONFIG, tensors: Record<string, HostTensor> | null = TENSORS): string {
  const dir = tempDir('sat-ckpt-');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  if (tensors) writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

const without = (name: string) => Object.fromEntries(Object.entries(TENSORS).filter(([n]) => n !== name));

test('the reference checkpoint loads with its config', (t) => {
  const ckpt = loadCheckpoint(DIR);
  t.is(ckpt.dir, path.resolve(DIR));
  t.deepEqual(ckpt.config, {
    architecture: 'Qwen3ForCausalLM',
    vocabSize: 512,
    hiddenSize: 64,
    intermediateSize: 176,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 32,
    ropeTheta: 1e6,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
    bosTokenId: 1,
    eosTokenIds: [2],
    maxPositionEmbeddings: 512,
    torchDtype: 'float32',
  });
  t.is(ckpt.tensors.size, 25);
  t.deepEqual(ckpt.tensors.get('lm_head.weight')!.shape, [512, 64]);
});

test('parameter count is the sum of tensor sizes', (t) => {
  const ckpt = loadCheckpoint(DIR);
  const perLayer = 128 * 64 * 2 + 64 * 64 * 2 + 32 * 2 + 176 * 64 * 3 + 64 * 2;
  t.is(parameterCount(ckpt), 512 * 64 * 2 + 64 + 2 * perLayer);
  t.is(
    parameterCount(ckpt),
    [...HEADER.values()].reduce((s, i) => s + i.length / 4, 0),
  );
});

test('a sharded checkpoint loads to the same tensors', (t) => {
  const dir = checkpointDir(CONFIG, null);
  const names = Object.keys(TENSORS).sort();
  const shards = [names.slice(0, 10), names.slice(10)];
  const weightMap: Record<string, string> = {};
  shards.forEach((part, k) => {
    const file = `model-0000${k + 1}-of-00002.safetensors`;
    writeSafetensors(path.join(dir, file), Object.fromEntries(part.map((n) => [n, TENSORS[n]])));
    for (const n of part) weightMap[n] = file;
  });
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
  );
  const ckpt = loadCheckpoint(dir);
  t.deepEqual([...ckpt.tensors.keys()].sort(), names);
  t.is(path.basename(ckpt.tensors.get(names[0])!.file), 'model-00001-of-00002.safetensors');
  t.is(path.basename(ckpt.tensors.get(names[24])!.file), 'model-00002-of-00002.safetensors');
  for (const n of names) t.deepEqual(readTensor(ckpt.tensors.get(n)!).data, TENSORS[n].data, n);
  t.is(parameterCount(ckpt), parameterCount(loadCheckpoint(DIR)));
});

test('a BF16 checkpoint loads and converts back within bf16 precision', (t) => {
  const bf16 = Object.fromEntries(
    Object.entries(TENSORS).map(([n, x]) => {
      const bits = new Uint32Array((x.data as Float32Array).slice().buffer);
      return [n, { dtype: 'bfloat16', shape: x.shape, data: Uint16Array.from(bits, (b) => b >>> 16) } as HostTensor];
    }),
  );
  const ckpt = loadCheckpoint(checkpointDir({ ...CONFIG, torch_dtype: 'bfloat16' }, bf16));
  t.is(ckpt.config.torchDtype, 'bfloat16');
  const info = ckpt.tensors.get('model.layers.0.mlp.up_proj.weight')!;
  t.is(info.dtype, 'BF16');
  const got = toFloat32(readTensor(info));
  const want = TENSORS['model.layers.0.mlp.up_proj.weight'].data as Float32Array;
  t.true(got.every((v, i) => Math.abs(v - want[i]) <= Math.abs(want[i]) * 2 ** -7));
});

test('tied embeddings need no lm_head; an eos list is read', (t) => {
  const ckpt = loadCheckpoint(
    checkpointDir({ ...CONFIG, tie_word_embeddings: true, eos_token_id: [2, 7] }, without('lm_head.weight')),
  );
  t.true(ckpt.config.tieWordEmbeddings);
  t.deepEqual(ckpt.config.eosTokenIds, [2, 7]);
  t.is(parameterCount(ckpt), parameterCount(loadCheckpoint(DIR)) - 512 * 64);
});

test('optional config fields take the transformers defaults', (t) => {
  const {
    max_position_embeddings: _m,
    rope_scaling: _r,
    attention_bias: _a,
    use_sliding_window: _u,
    sliding_window: _s,
    hidden_act: _h,
    ...c
  } = CONFIG;
  const ckpt = loadCheckpoint(checkpointDir({ ...c, sliding_window: 4096 }));
  t.is(ckpt.config.maxPositionEmbeddings, 32768);
});

const errors: [string, () => string, string, RegExp][] = [
  [
    'directory missing',
    () => path.join(os.tmpdir(), 'sat-no-such-checkpoint'),
    'ModelNotFoundError',
    /sat-no-such-checkpoint: no such checkpoint directory/,
  ],
  [
    'config.json missing',
    () => {
      const d = checkpointDir();
      fs.rmSync(path.join(d, 'config.json'));
      return d;
    },
    'ModelNotFoundError',
    /config\.json: missing/,
  ],
  [
    'config.json not JSON',
    () => {
      const d = checkpointDir();
      fs.writeFileSync(path.join(d, 'config.json'), '{"vocab_size": 5');
      return d;
    },
    'ModelFormatError',
    /config\.json: not valid JSON/,
  ],
  [
    'unsupported architecture',
    () => checkpointDir({ ...CONFIG, model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'] }),
    'ModelFormatError',
    /unsupported architecture \(Qwen2ForCausalLM, model_type "qwen2"\); only Qwen3/,
  ],
  [
    'Qwen3 MoE',
    () => checkpointDir({ ...CONFIG, model_type: 'qwen3_moe', architectures: ['Qwen3MoeForCausalLM'] }),
    'ModelFormatError',
    /unsupported architecture \(Qwen3MoeForCausalLM/,
  ],
  [
    'scaled RoPE',
    () => checkpointDir({ ...CONFIG, rope_scaling: { rope_type: 'yarn', factor: 4 } }),
    'ModelFormatError',
    /config\.json: 'rope_scaling' \{"rope_type":"yarn","factor":4\} is not supported; only the default RoPE is implemented/,
  ],
  [
    'attention bias',
    () => checkpointDir({ ...CONFIG, attention_bias: true }),
    'ModelFormatError',
    /config\.json: 'attention_bias' true is not supported; only bias-free attention projections/,
  ],
  [
    'sliding window',
    () => checkpointDir({ ...CONFIG, use_sliding_window: true, sliding_window: 4096 }),
    'ModelFormatError',
    /'use_sliding_window' true \(sliding_window 4096\) is not supported; only full causal attention/,
  ],
  [
    'other activation',
    () => checkpointDir({ ...CONFIG, hidden_act: 'gelu' }),
    'ModelFormatError',
    /config\.json: 'hidden_act' "gelu" is not supported; only the 'silu' activation/,
  ],
  [
    'bad config field',
    () => checkpointDir({ ...CONFIG, hidden_size: '64' }),
    'ModelFormatError',
    /'hidden_size' must be a positive integer, got "64"/,
  ],
  [
    'no weights',
    () => checkpointDir(CONFIG, null),
    'ModelNotFoundError',
    /no model\.safetensors or model\.safetensors\.index\.json/,
  ],
  [
    'missing tensor',
    () => checkpointDir(CONFIG, without('model.layers.1.self_attn.k_norm.weight')),
    'ModelFormatError',
    /tensor 'model\.layers\.1\.self_attn\.k_norm\.weight' is missing/,
  ],
  [
    'wrong shape',
    () => checkpointDir({ ...CONFIG, intermediate_size: 160 }),
    'ModelFormatError',
    /model\.safetensors: tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[176, 64\], config\.json implies \[160, 64\]/,
  ],
  [
    'head_dim defaults to hidden / heads',
    () => {
      const { head_dim: _, ...c } = CONFIG;
      return checkpointDir(c);
    },
    'ModelFormatError',
    /q_proj\.weight' has shape \[128, 64\], config\.json implies \[64, 64\]/,
  ],
  [
    'wrong dtype',
    () =>
      checkpointDir(CONFIG, {
        ...TENSORS,
        'model.norm.weight': { dtype: 'int32', shape: [64], data: new Int32Array(64) },
      }),
    'ModelFormatError',
    /'model\.norm\.weight' has dtype I32; weights must be F32, F16 or BF16/,
  ],
  [
    'shard missing',
    () => {
      const d = checkpointDir(CONFIG, null);
      writeSafetensors(path.join(d, 'a.safetensors'), without('model.norm.weight'));
      const map = Object.fromEntries(
        Object.keys(TENSORS).map((n) => [n, n === 'model.norm.weight' ? 'b.safetensors' : 'a.safetensors']),
      );
      fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: map }));
      return d;
    },
    'ModelNotFoundError',
    /b\.safetensors: shard listed in model\.safetensors\.index\.json is missing/,
  ],
  [
    'tensor not in its shard',
    () => {
      const d = checkpointDir(CONFIG, null);
      writeSafetensors(path.join(d, 'a.safetensors'), without('model.norm.weight'));
      fs.writeFileSync(
        path.join(d, 'model.safetensors.index.json'),
        JSON.stringify({ weight_map: Object.fromEntries(Object.keys(TENSORS).map((n) => [n, 'a.safetensors'])) }),
      );
      return d;
    },
    'ModelFormatError',
    /a\.safetensors: model\.safetensors\.index\.json puts tensor 'model\.norm\.weight' in this shard but it is not there/,
  ],
  [
    'truncated weights',
    () => {
      const d = checkpointDir();
      fs.truncateSync(path.join(d, 'model.safetensors'), 4096);
      return d;
    },
    'SafetensorsError',
    /model\.safetensors: file truncated/,
  ],
];

for (const [what, make, name, message] of errors) {
  test(`error: ${what}`, (t) => {
    const err = t.throws(() => loadCheckpoint(make()), { name, message })!;
    t.false(err.message.includes('\n'));
  });
}
