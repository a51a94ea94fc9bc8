// `sat-peer model info <name|dir>`: what a checkpoint folder holds, read from its config and headers only (a model
// named by its name is found, or downloaded, first).
import fs from 'node:fs';
import path from 'node:path';
import { loadCheckpoint, parameterCount, type Qwen3Config } from '../../agent/model/checkpoint.ts';
import type { Command } from '../command.ts';
import { MODEL_OPTIONS, modelFolder } from '../options.ts';

export interface ModelInfo extends Omit<Qwen3Config, 'bosTokenId'> {
  dir: string;
  bosTokenId: number | null;
  /** Safetensors dtypes of the tensors, e.g. ['BF16']. */
  dtypes: string[];
  tensors: number;
  parameters: number;
  /** Weight files, relative to `dir`. */
  files: string[];
  sizeOnDisk: number;
}

export function modelInfo(dir: string): ModelInfo {
  const ckpt = loadCheckpoint(dir);
  const infos = [...ckpt.tensors.values()];
  const files = [...new Set(infos.map((i) => i.file))].sort();
  return {
    dir: ckpt.dir,
    ...ckpt.config,
    bosTokenId: ckpt.config.bosTokenId ?? null,
    dtypes: [...new Set(infos.map((i) => i.dtype))].sort(),
    tensors: infos.length,
    parameters: parameterCount(ckpt),
    files: files.map((f) => path.relative(ckpt.dir, f)),
    sizeOnDisk: files.reduce((s, f) => s + fs.statSync(f).size, 0),
  };
}

const group = (n: number) => n.toLocaleString('en-US');

export function humanCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${(n / 1e6).toFixed(2)} M`;
}

export function humanBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  const k = Math.min(units.length - 1, Math.floor(Math.log(Math.max(n, 1)) / Math.log(1024)));
  return k === 0 ? `${n} bytes` : `${(n / 1024 ** k).toFixed(1)} ${units[k]}`;
}

export function formatModelInfo(m: ModelInfo): string {
  const rows: [string, string][] = [
    ['architecture', m.architecture],
    ['vocab', group(m.vocabSize)],
    ['hidden', group(m.hiddenSize)],
    ['intermediate', group(m.intermediateSize)],
    ['layers', String(m.numLayers)],
    ['attention', `${m.numHeads} heads, ${m.numKvHeads} kv heads, head_dim ${m.headDim}`],
    ['rope theta', String(m.ropeTheta)],
    ['rms norm eps', String(m.rmsNormEps)],
    ['max positions', group(m.maxPositionEmbeddings)],
    ['embeddings', m.tieWordEmbeddings ? 'tied (lm_head = embed_tokens)' : 'untied (separate lm_head)'],
    ['tokens', `bos ${m.bosTokenId ?? 'none'}, eos ${m.eosTokenIds.join(', ') || 'none'}`],
    ['dtype', `${m.dtypes.join(', ')} (config torch_dtype ${m.torchDtype})`],
    ['parameters', `${humanCount(m.parameters)} parameters (${group(m.parameters)}) in ${m.tensors} tensors`],
    [
      'size on disk',
      `${humanBytes(m.sizeOnDisk)} (${group(m.sizeOnDisk)} bytes) in ${m.files.length} file${m.files.length === 1 ? '' : 's'}`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [m.dir, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}

export const modelInfoCommand: Command = {
  name: 'model info',
  summary: "show a checkpoint's architecture, sizes, dtypes and parameter count",
  usage: 'sat-peer model info <name|dir> [--offline] [--json]',
  args: ['model'],
  options: { offline: MODEL_OPTIONS.offline },
  async run({ args, options, json }) {
    const info = modelInfo(await modelFolder(args.model, options));
    process.stdout.write(`${json ? JSON.stringify(info, null, 2) : formatModelInfo(info)}\n`);
  },
};
