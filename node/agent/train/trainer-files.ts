// A trainer's state as a safetensors file: the trainable tensors by name, their AdamW moments
// (`adam_m.`/`adam_v.` + name) and the optimizer step.
import type { HostTensor } from '../../gpu/ort.ts';
import { readSafetensorsHeader, readTensor, toFloat32, writeSafetensors } from '../../gpu/safetensors.ts';
import { ModelFormatError } from '../errors.ts';
import { type TrainerState, shapesOf, views } from './trainer-state.ts';

/** The optimizer step in saved trainer state (AdamW's bias correction depends on it). */
const STEP_TENSOR = 'optimizer.step';

/** Each saved tensor's name prefix and the buffer it comes from. */
const SAVED = [
  ['', 'params'],
  ['adam_m.', 'm'],
  ['adam_v.', 'v'],
] as const;

export function saveState(file: string, state: TrainerState): void {
  const tensors: Record<string, HostTensor> = {};
  const shapes = shapesOf(state.groups);
  for (const [prefix, which] of SAVED) {
    for (const [name, view] of views(state, which)) {
      tensors[prefix + name] = { dtype: 'float32', shape: shapes.get(name)!, data: view };
    }
  }
  tensors[STEP_TENSOR] = { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(state.step)) };
  writeSafetensors(file, tensors, { format: 'sat-peer' });
}

/** Loads what saveState wrote; every trainable tensor must be present with the same size. */
export function loadState(file: string, state: TrainerState): void {
  const header = readSafetensorsHeader(file);
  for (const [prefix, which] of SAVED) {
    for (const [name, view] of views(state, which)) {
      const info = header.get(prefix + name);
      if (!info)
        throw new ModelFormatError(
          `${file}: missing tensor '${prefix + name}'; was it saved from the same model and trainable set?`,
        );
      const data = toFloat32(readTensor(info));
      if (data.length !== view.length)
        throw new ModelFormatError(
          `${file}: tensor '${prefix + name}' has ${data.length} values, expected ${view.length}`,
        );
      view.set(data);
    }
  }
  const step = header.get(STEP_TENSOR);
  state.step = step ? Number((readTensor(step).data as BigInt64Array)[0]) : 0;
  state.version++;
}
