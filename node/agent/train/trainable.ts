// Which tensors a trainer trains and their first values: for full fine-tuning the checkpoint tensors the Qwen3
// graph reads, for LoRA new adapters; with them, when asked for, a value head.
import type { Shape } from '../../gpu/graph.ts';
import { readTensor, toFloat32 } from '../../gpu/safetensors.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import { rng } from '../model/random.ts';
import { initialValueHead } from '../model/value-head.ts';
import { type LoraConfig, isLoraTarget, loraNames, modelTensorNames, validateLora } from '../model/weights.ts';

export type Trainable = { kind: 'full' } | { kind: 'lora'; lora: LoraConfig };

/** A trainable tensor's shape and how to make its first values (read when the trainer's state takes them in). */
export interface InitialTensor {
  shape: Shape;
  read(): Float32Array;
}

/**
 * The trainable tensors' first values by name, each made when read, so that a full fine-tuning of a large checkpoint
 * holds one float32 tensor at a time besides its state; `seed` draws the LoRA A initialisation.
 */
export function initialParams(
  ckpt: Checkpoint,
  trainable: Trainable,
  seed: number,
  withValueHead: boolean,
): Map<string, InitialTensor> {
  const params = new Map<string, InitialTensor>();
  const given = (data: Float32Array, shape: Shape): InitialTensor => ({ shape, read: () => data });
  if (trainable.kind === 'full') {
    const read = modelTensorNames(ckpt);
    for (const [name, info] of ckpt.tensors) {
      if (read.has(name)) params.set(name, { shape: info.shape, read: () => toFloat32(readTensor(info)) });
    }
  } else {
    validateLora(ckpt, trainable.lora);
    const { rank } = trainable.lora;
    const next = rng(seed);
    for (const [name, info] of ckpt.tensors) {
      if (!isLoraTarget(trainable.lora, name)) continue;
      const [out, inp] = info.shape;
      const n = loraNames(name);
      const bound = 1 / Math.sqrt(inp); // PEFT's default: A kaiming-uniform, B zero
      params.set(
        n.a,
        given(
          Float32Array.from({ length: rank * inp }, () => (next() * 2 - 1) * bound),
          [rank, inp],
        ),
      );
      params.set(n.b, given(new Float32Array(out * rank), [out, rank]));
    }
  }
  if (withValueHead)
    for (const [name, t] of initialValueHead(ckpt.config.hiddenSize)) params.set(name, given(t.data, t.shape));
  return params;
}
