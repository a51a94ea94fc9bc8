// The flags every command that runs a model shares, and their parsing into checked values: one UsageError
// naming the flag for anything malformed.
import fs from 'node:fs';
import path from 'node:path';
import { progressBar, resolveModel } from '../agent/hub/hub.ts';
import { loadTokenizer, type Tokenizer } from '../agent/model/tokenizer.ts';
import { UsageError } from './errors.ts';
import { DeviceError } from '../gpu/errors.ts';
import { CUDA_INSTALL_HINT, cudaAvailable, type SessionOptions } from '../gpu/ort.ts';
import type { CommandOption } from './command.ts';

/** The options every command that runs the model takes. */
export const MODEL_OPTIONS: Record<string, CommandOption> = {
  model: {
    type: 'string',
    value: '<name|dir>',
    description:
      'qwen3-0.6b .. qwen3-32b or a Hugging Face repo id (from the hub), tiny-weak / tiny-strong (embedded), or a ' +
      'checkpoint folder (config.json, model.safetensors, tokenizer.json)',
  },
  offline: { type: 'boolean', description: 'never download a model: use the Hugging Face cache only' },
  device: { type: 'string', value: '<cpu|cuda>', description: 'where the model runs (default cpu)' },
  threads: { type: 'string', value: '<n>', description: 'intra-op threads (default: one per core)' },
};

/**
 * The checkpoint folder a model name or folder (`--model`, `model info <name|dir>`) names: a Hugging Face model is
 * downloaded into its cache first (with a progress bar on stderr), unless --offline.
 */
export async function modelFolder(spec: string, options: Record<string, unknown>): Promise<string> {
  const model = await resolveModel(spec, {
    ...(options.offline ? { offline: true } : {}),
    progress: progressBar(process.stderr),
  });
  return model.dir;
}

/** `--name`'s value as a string; a UsageError when it is required and missing. */
export function stringFlag(options: Record<string, unknown>, name: string, required: true): string;
export function stringFlag(options: Record<string, unknown>, name: string, required?: false): string | undefined;
export function stringFlag(options: Record<string, unknown>, name: string, required = false): string | undefined {
  const v = options[name];
  if (v === undefined && required) throw new UsageError(`missing --${name}`);
  return v as string | undefined;
}

/** `--name`'s value as a number within [min, max] (an integer when `integer`); `fallback` when absent. */
export function numberFlag(
  options: Record<string, unknown>,
  name: string,
  fallback: number,
  range: { min?: number; max?: number; integer?: boolean; above?: number } = {},
): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const text = String(raw).trim();
  const n = text === '' ? NaN : Number(text);
  const kind = range.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(n) || (range.integer && !Number.isSafeInteger(n)))
    throw new UsageError(`--${name} must be ${kind}, got '${raw}'`);
  const { min, max, above } = range;
  const bounds = [
    above !== undefined ? `> ${above}` : min !== undefined ? `>= ${min}` : '',
    max !== undefined ? `<= ${max}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  if ((min !== undefined && n < min) || (above !== undefined && n <= above) || (max !== undefined && n > max)) {
    throw new UsageError(`--${name} must be ${kind} ${bounds}, got ${raw}`);
  }
  return n;
}

/** A comma-separated list of token ids, e.g. `5,9,3`; range checks against the vocabulary come later. */
export function idsFlag(name: string, raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const bad = parts.find((s) => !/^\d+$/.test(s));
  if (bad !== undefined)
    throw new UsageError(`--${name} must be comma-separated token ids like 5,9,3, got '${bad}' in '${raw}'`);
  return parts.map(Number);
}

/** --device and --threads as session options; a missing CUDA provider fails here, before any loading. */
export function sessionOptions(options: Record<string, unknown>): SessionOptions {
  const device = options.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got '${device}'`);
  if (device === 'cuda' && !cudaAvailable()) throw new DeviceError(CUDA_INSTALL_HINT);
  const threads = numberFlag(options, 'threads', 0, { integer: true, min: 1 });
  return { device, ...(threads ? { threads } : {}) };
}

/** The checkpoint's tokenizer when it ships a tokenizer.json; else none (ids are shown as ids). */
export function optionalTokenizer(dir: string): Tokenizer | undefined {
  return fs.existsSync(path.join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : undefined;
}

/** The config's warnings, one `sat-peer: config:` line each on stderr. */
export function printConfigNotes(notes: readonly string[]): void {
  for (const note of notes) process.stderr.write(`sat-peer: config: ${note}\n`);
}

/** Prints one JSON object on its own line on stdout (`--json`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
