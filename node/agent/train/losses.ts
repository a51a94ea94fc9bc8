// Losses composed over the model's per-token log-probs. Each is a LossFn (trainer.ts): the SAT learner
// writes its clipped-surrogate loss (learner/sat-loss.ts) the same way.
import * as op from '../../gpu/ops.ts';
import type { LossFn } from './trainer.ts';

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
