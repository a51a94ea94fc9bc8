// An agent's trained tensors frozen at one moment — an incumbent kept beside its successor during
// Stage-0: copied out of a Trainer's ParamSource, written to and read back from safetensors.
import { createHash } from 'node:crypto';
import type { Shape } from '../../gpu/graph.ts';
import { readSafetensorsHeader, readTensor, toFloat32, writeSafetensors } from '../../gpu/safetensors.ts';
import { VALUE_HEAD } from './value-head.ts';
import type { LoraConfig, ParamSource } from './weights.ts';

type Tensors = Map<string, { data: Float32Array; shape: Shape }>;

const source = (tensors: Tensors, lora?: LoraConfig): ParamSource => ({
  trainable: new Set(lora ? [] : tensors.keys()),
  ...(lora ? { lora } : {}),
  current: () => tensors,
  pin: () => ({ owner: tensors, version: 0 }), // frozen: one version for good
});

/** A copy of the policy tensors `src` holds now (a value head is left out: a frozen policy needs none). */
export function freezeParams(src: ParamSource): ParamSource {
  const head = new Set<string>(Object.values(VALUE_HEAD));
  const tensors: Tensors = new Map();
  for (const [name, t] of src.current())
    if (!head.has(name)) tensors.set(name, { data: t.data.slice(), shape: [...t.shape] });
  return source(tensors, src.lora);
}

/**
 * A digest of the policy tensors `src` holds now (SHA-256 over each tensor's name, shape and float32 bytes, by name; the
 * value head left out): two sources with equal digests hold the same policy.
 */
export function paramsDigest(src: ParamSource): Uint8Array<ArrayBuffer> {
  const head = new Set<string>(Object.values(VALUE_HEAD));
  const hash = createHash('sha256');
  for (const [name, t] of [...src.current()].filter(([n]) => !head.has(n)).sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(`${name}:${t.shape.join('x')};`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return new Uint8Array(hash.digest());
}

/** Writes the tensors of a frozen source (atomically). */
export function saveParams(file: string, src: ParamSource): void {
  const tensors = Object.fromEntries(
    [...src.current()].map(([n, t]) => [n, { dtype: 'float32' as const, shape: t.shape, data: t.data }]),
  );
  writeSafetensors(file, tensors, { format: 'sat-peer-params' });
}

/** Reads what `saveParams` wrote; `lora` as when it was saved (the tensors are then LoRA factors). */
export function loadParams(file: string, lora?: LoraConfig): ParamSource {
  const tensors: Tensors = new Map();
  for (const [name, info] of readSafetensorsHeader(file))
    tensors.set(name, { data: toFloat32(readTensor(info)), shape: info.shape });
  return source(tensors, lora);
}
