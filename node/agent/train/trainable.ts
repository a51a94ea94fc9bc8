// Which tensors a trainer trains and their first values: for full fine-tuning the checkpoint tensors the Qwen3
// graph reads, for LoRA new adapters; with them, when asked for, a value head.
import { Graph, type Shape } from '../../gpu/graph.ts';
import * as op from '../../gpu/ops.ts';
import { readTensor, toFloat32 } from '../../gpu/safetensors.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import { qwen3Forward } from '../model/qwen3.ts';
import { rng } from '../model/random.ts';
import { initialValueHead } from '../model/value-head.ts';
import { type LoraConfig, bindWeights, isLoraTarget, loraNames, validateLora } from '../model/weights.ts';

export type Trainable = { kind: 'full' } | { kind: 'lora'; lora: LoraConfig };

/** The checkpoint tensors the Qwen3 graph reads: not extras such as rotary inv_freq buffers, nor a tied lm_head. */
function modelTensorNames(ckpt: Checkpoint): Set<string> {
  const g = new Graph('probe');
  const ids = g.input('input_ids', 'int64', [1, 1]);
  const { weights, params } = bindWeights(g, ckpt, new Set(ckpt.tensors.keys()));
  qwen3Forward(ckpt.config, weights, { ids, positions: ids, keyMask: op.cast(ids, 'bool'), maxPosition: 1 });
  return new Set(params.keys());
}

/** The trainable tensors' first values by name; `seed` draws the LoRA A initialisation. */
export function initialParams(
  ckpt: Checkpoint,
  trainable: Trainable,
  seed: number,
  withValueHead: boolean,
): Map<string, { data: Float32Array; shape: Shape }> {
  const params = new Map<string, { data: Float32Array; shape: Shape }>();
  if (trainable.kind === 'full') {
    const read = modelTensorNames(ckpt);
    for (const [name, info] of ckpt.tensors) {
      if (read.has(name)) params.set(name, { data: toFloat32(readTensor(info)), shape: info.shape });
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
      params.set(n.a, {
        data: Float32Array.from({ length: rank * inp }, () => (next() * 2 - 1) * bound),
        shape: [rank, inp],
      });
      params.set(n.b, { data: new Float32Array(out * rank), shape: [out, rank] });
    }
  }
  if (withValueHead) for (const [name, t] of initialValueHead(ckpt.config.hiddenSize)) params.set(name, t);
  return params;
}
