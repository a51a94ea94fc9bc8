// What `--model <spec>` names: an existing folder (used as is), an embedded demo model, a short name
// of a Qwen3 checkpoint on the Hugging Face hub, or an explicit hub repo id `org/repo`.
//
//   parseModelSpec('qwen3-4b')          // { kind: 'hub', name: 'qwen3-4b', repo: 'Qwen/Qwen3-4B' }
//   parseModelSpec('tiny-weak')         // { kind: 'embedded', name: 'tiny-weak', dir: '<package>/models/demo/tiny-weak' }
//   parseModelSpec('./my-checkpoint')   // { kind: 'path', name: 'my-checkpoint', dir: '/abs/my-checkpoint' }
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelNotFoundError } from '../errors.ts';

/** The package root: two folders up from node/agent. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Short names of the Qwen3 checkpoints on the Hugging Face hub. */
export const HUB_MODELS: Readonly<Record<string, string>> = {
  'qwen3-0.6b': 'Qwen/Qwen3-0.6B',
  'qwen3-1.7b': 'Qwen/Qwen3-1.7B',
  'qwen3-4b': 'Qwen/Qwen3-4B',
  'qwen3-8b': 'Qwen/Qwen3-8B',
  'qwen3-14b': 'Qwen/Qwen3-14B',
  'qwen3-32b': 'Qwen/Qwen3-32B',
};

/** The tiny demo models shipped inside the package. */
export const EMBEDDED_MODELS: Readonly<Record<string, string>> = {
  'tiny-weak': path.join(PACKAGE_ROOT, 'models', 'demo', 'tiny-weak'),
  'tiny-strong': path.join(PACKAGE_ROOT, 'models', 'demo', 'tiny-strong'),
};

export type ModelSpec =
  | { kind: 'path'; name: string; dir: string }
  | { kind: 'embedded'; name: string; dir: string }
  | { kind: 'hub'; name: string; repo: string };

/** Every name `parseModelSpec` knows, embedded first. */
export function knownModelNames(): string[] {
  return [...Object.keys(EMBEDDED_MODELS), ...Object.keys(HUB_MODELS)];
}

// HF repo ids: `org/name`, letters, digits, '-', '_', '.', no '--' or '..' and no leading/trailing '-' or '.'.
const REPO_ID = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;

/**
 * What `spec` names; an existing folder takes precedence over every name. Throws ModelNotFoundError for anything
 * else.
 */
export function parseModelSpec(spec: string): ModelSpec {
  const stat = fs.statSync(spec, { throwIfNoEntry: false });
  if (stat?.isDirectory()) {
    const dir = path.resolve(spec);
    return { kind: 'path', name: path.basename(dir), dir };
  }
  const key = spec.toLowerCase();
  const embedded = EMBEDDED_MODELS[key];
  if (embedded !== undefined) return { kind: 'embedded', name: key, dir: embedded };
  const repo = HUB_MODELS[key];
  if (repo !== undefined) return { kind: 'hub', name: key, repo };
  if (stat)
    throw new ModelNotFoundError(
      `model ${spec} is a file: give the checkpoint folder that holds config.json and the safetensors weights`,
    );
  if (REPO_ID.test(spec) && !/--|\.\.|[-.]$|[-.]\//.test(spec)) return { kind: 'hub', name: spec, repo: spec };
  throw new ModelNotFoundError(
    `no such model name or folder: ${spec}; known names: ${knownModelNames().join(', ')}; ` +
      'a checkpoint folder path or a Hugging Face repo id (org/name) also works',
  );
}
