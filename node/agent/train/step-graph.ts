// The training graphs and their inputs and outputs: for one (batch, seq[, at]) bucket, forward + the caller's loss +
// autodiff backward, then AdamW or a weighted gradient sum; and AdamW from gradients summed over micro-batches.
import { Graph, type Value } from '../../gpu/graph.ts';
import { gradients } from '../../gpu/autodiff.ts';
import * as op from '../../gpu/ops.ts';
import {
  type AdamWConfig,
  type GroupName,
  type ParamGroup,
  adamwFromFlat,
  adamwUpdate,
  flatGradients,
} from '../../gpu/adamw.ts';
import type { Device, HostTensor } from '../../gpu/ort.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import { qwen3Forward, writesAttentionOut } from '../model/qwen3.ts';
import { defaultPositions, tokenLogprobs, tokenLogprobsAt } from '../model/score.ts';
import { VALUE_HEAD, valueHead } from '../model/value-head.ts';
import { type LoraConfig, bindWeights } from '../model/weights.ts';
import type { TrainBatch } from './batch.ts';
import type { LossFn } from './losses.ts';
import { shapesOf } from './trainer-state.ts';

/** 'step' ends in the AdamW update; 'grad' adds the batch's weighted gradient to a running sum instead. */
export type StepMode = 'step' | 'grad';

/** What every bucket's graph is built from. */
export interface StepGraphSpec {
  ckpt: Checkpoint;
  groups: readonly ParamGroup[];
  /** The HF weights that are graph inputs (full fine-tuning); empty with LoRA. */
  trainable: ReadonlySet<string>;
  lora?: LoraConfig;
  loss: LossFn;
  optimizer: AdamWConfig;
  /** The policy is softmax(logits / temperature): the loss's token log-probs are taken under it. */
  temperature: number;
  /** Where the graph's sessions run. */
  device?: Device;
}

/** Graph input and output names of a group's gradient sum (mode 'grad' and the apply graph). */
export const gradAccNames = (group: GroupName) => ({ acc: `grad_acc.${group}`, newAcc: `new_grad_acc.${group}` });

/**
 * The graph of one (batch, seq[, at]) bucket: forward, the loss and its gradient, then either the
 * AdamW update ('step') or, for a micro-batch ('grad'), `new_grad_acc.<group>` = `grad_acc.<group>`
 * + `grad_scale` x the group's flat gradient. With `at`, input `logprob_index` [batch, at] picks
 * the log-probs the loss sees (TrainBatch.at), and the head runs there only. `lossInputs` are the
 * inputs the loss declared.
 */
export function stepGraph(
  spec: StepGraphSpec,
  batch: number,
  seq: number,
  mode: StepMode,
  at?: number,
): { graph: Graph; lossInputs: Value[] } {
  const g = new Graph(mode === 'step' ? 'train_step' : 'train_grad');
  const ids = g.input('input_ids', 'int64', [batch, seq]);
  const attentionMask = g.input('attention_mask', 'int64', [batch, seq]);
  const index = at === undefined ? undefined : g.input('logprob_index', 'int64', [batch, at]);
  const shapes = shapesOf(spec.groups);
  const { weights, params } = bindWeights(g, spec.ckpt, spec.trainable, spec.lora);
  const keyMask = op.cast(attentionMask, 'bool');
  const { logits, hidden } = qwen3Forward(spec.ckpt.config, weights, {
    ids,
    positions: defaultPositions(ids),
    keyMask,
    maxPosition: seq,
    ...(index ? { last: index } : {}),
    writtenOutAttention: writesAttentionOut(spec.device),
  });
  const t = spec.temperature;
  const scaled = t === 1 ? logits : op.div(logits, op.scalarLike(logits, t));
  let values: Value | undefined;
  if (shapes.has(VALUE_HEAD.weight)) {
    const [w, b] = [VALUE_HEAD.weight, VALUE_HEAD.bias].map((name) => g.input(name, 'float32', shapes.get(name)!));
    params.set(VALUE_HEAD.weight, w);
    params.set(VALUE_HEAD.bias, b);
    values = valueHead(hidden, w, b);
  }
  const lossInputs: Value[] = [];
  const out = spec.loss({
    graph: g,
    ids,
    attentionMask,
    logits,
    ...(values ? { values } : {}),
    tokenLogprobs: index ? tokenLogprobsAt(scaled, ids, index) : tokenLogprobs(scaled, ids),
    input: (name, dtype, shape) => {
      const v = g.input(name, dtype, shape);
      lossInputs.push(v);
      return v;
    },
  });
  const { loss, metrics } = 'loss' in out ? out : { loss: out, metrics: {} };
  g.output(loss, 'loss');
  for (const [k, v] of Object.entries(metrics)) g.output(v, `metric.${k}`);
  const names = [...shapes.keys()];
  const grads = gradients(
    loss,
    names.map((n) => params.get(n)!),
  );
  const byName = new Map(names.map((n, i) => [n, grads[i]]));
  if (mode === 'step') {
    adamwUpdate(g, spec.groups, params, byName, spec.optimizer);
  } else {
    const scale = g.input('grad_scale', 'float32', []);
    flatGradients(spec.groups, byName).forEach((flat, i) => {
      const { size, name } = spec.groups[i];
      const n = gradAccNames(name);
      g.output(op.add(g.input(n.acc, 'float32', [size]), op.mul(flat, scale)), n.newAcc);
    });
  }
  return { graph: g, lossInputs };
}

/** AdamW from gradients summed over micro-batches (`grad_acc.<group>`). */
export function applyGraph(spec: StepGraphSpec): Graph {
  const g = new Graph('train_apply');
  adamwFromFlat(
    g,
    spec.groups,
    spec.groups.map((grp) => g.input(gradAccNames(grp.name).acc, 'float32', [grp.size])),
    spec.optimizer,
  );
  return g;
}

/** A batch's feeds under the step graph's input names: ids, mask, the loss's inputs and `at`'s indices. */
export function batchFeeds(b: TrainBatch): Record<string, HostTensor> {
  return {
    input_ids: { dtype: 'int64', shape: [b.batch, b.seq], data: b.inputIds },
    attention_mask: { dtype: 'int64', shape: [b.batch, b.seq], data: b.attentionMask },
    ...b.extra,
    ...(b.at ? { logprob_index: { dtype: 'int64', shape: [b.batch, b.at.count], data: b.at.index } } : {}),
  };
}

/** The loss's metrics (outputs `metric.<name>`) among a run's outputs. */
export const metricsOf = (out: Record<string, HostTensor>): Record<string, number> =>
  Object.fromEntries(
    Object.keys(out)
      .filter((k) => k.startsWith('metric.'))
      .map((k) => [k.slice(7), Number(out[k].data[0])]),
  );
