// The value head of GAE mode (docs/design §1.5, advantages): V(s_t) = w . h_t + b on the model's final hidden
// state, trained with the agent's policy. Its two tensors live beside the trainable ones, never in the
// checkpoint's files.
import type { Value } from '../../gpu/graph.ts';
import * as op from '../../gpu/ops.ts';

export const VALUE_HEAD = { weight: 'value_head.weight', bias: 'value_head.bias' } as const;

/** The head's initial tensors: zeros, so that training starts from V = 0. */
export function initialValueHead(hidden: number): Map<string, { data: Float32Array; shape: number[] }> {
  return new Map([
    [VALUE_HEAD.weight, { data: new Float32Array(hidden), shape: [1, hidden] }],
    [VALUE_HEAD.bias, { data: new Float32Array(1), shape: [1] }],
  ]);
}

/** V for every position: hidden [B, T, H] -> [B, T]. */
export function valueHead(hidden: Value, weight: Value, bias: Value): Value {
  const [b, t] = hidden.shape;
  const v = op.add(op.matmul(hidden, op.transpose(weight, [1, 0])), bias); // [B, T, 1]
  return op.reshape(v, [b, t]);
}
