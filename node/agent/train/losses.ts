// What a loss sees of a training step (LossContext) and the losses composed over it. The step graph
// (step-graph.ts) calls a LossFn; the SAT learner writes its clipped-surrogate loss (learner/sat-loss.ts) the same way.
import type { DType, Graph, Shape, Value } from '../../gpu/graph.ts';
import * as op from '../../gpu/ops.ts';

/** What a loss sees: the batch, the model's outputs, and a way to declare extra per-batch inputs. */
export interface LossContext {
  graph: Graph;
  /** [B, T] int64 token ids and the 1/0 attention mask. */
  ids: Value;
  attentionMask: Value;
  /**
   * [B, T, vocab] logits and [B, T-1] next-token log-probs (index t: token t+1's). For a batch with
   * `at` (TrainBatch), only at those P indices: [B, P, vocab] and [B, P].
   */
  logits: Value;
  tokenLogprobs: Value;
  /**
   * [B, T] V(s_t) of the value head, when the trainer has one (TrainerOptions.valueHead); [B, P] for a batch with
   * `at`.
   */
  values?: Value;
  /** Declares an input the caller feeds at every step under `name` (advantages, weights, scalars). */
  input(name: string, dtype: DType, shape: Shape): Value;
}

/** A loss: a scalar, optionally with scalar metrics to report. */
export type LossFn = (ctx: LossContext) => Value | { loss: Value; metrics: Record<string, Value> };

/**
 * Supervised fine-tuning: mean negative log-likelihood of the target tokens. Input `loss_mask`
 * [B, T-1] (float32) marks which next tokens are targets (e.g. the answer, not the prompt).
 */
export const sftLoss: LossFn = ({ tokenLogprobs, input }) => {
  const mask = input('loss_mask', 'float32', tokenLogprobs.shape);
  const axes = [...tokenLogprobs.shape.keys()];
  const count = op.max(op.reduceSum(mask, axes), op.scalarLike(mask, 1));
  return op.div(op.neg(op.reduceSum(op.mul(tokenLogprobs, mask), axes)), count);
};
