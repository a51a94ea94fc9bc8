// The SAT policy loss of one agent's update (docs/design §1.8, stage step 3), as a LossFn over the
// model's per-token log-probs: the clipped sequence-ratio surrogate weighted by the sequence-aware
// importance weights c_t, plus beta times the k3 KL estimate between the old and new policy.
import type { Value } from '../../gpu/graph.ts';
import { GraphError } from '../../gpu/errors.ts';
import * as op from '../../gpu/ops.ts';
import type { LossContext, LossFn } from '../train/losses.ts';

/** Log sequence ratios beyond this are clipped before exp (float32 overflows at 88). */
export const MAX_LOG_RATIO = 20;

/**
 * Inputs fed at every step, all float32: `logp_old` [B, T-1] (the agent's log-probs of the tokens
 * before this update), `own_mask` [B, T-1] (1 on the agent's own tokens), `is_weights` [B, T-1]
 * (c_t), `advantages` [B], and the scalars `clip_eps` and `kl_beta` (beta moves with backtracking).
 * Metrics: `kl` (token mean), `ratio` (mean sequence ratio), `clip_frac` (share of sequences whose
 * ratio left [1-eps, 1+eps]).
 */
export const satPolicyLoss: LossFn = (ctx: LossContext) => {
  const { loss, metrics } = policyTerms(ctx);
  return { loss, metrics };
};

/**
 * GAE mode: satPolicyLoss plus `vf_coef` times the value loss on the agent's tokens,
 * 0.5 * mean(max((V - R)^2, (V_old + clip(V - V_old, +-vf_clip) - R)^2)), PPO's clipped value loss.
 * More float32 inputs: `returns` and `values_old` [B, T-1] (at the state each token is emitted from),
 * `vf_coef` and `vf_clip` (a huge number turns the clipping off). Needs a trainer with a value head.
 */
export const satActorCriticLoss: LossFn = (ctx: LossContext) => {
  const { loss, metrics, mask, tokens } = policyTerms(ctx);
  if (!ctx.values)
    throw new GraphError('the actor-critic loss needs a value head: create the Trainer with valueHead: true');
  const shape = ctx.tokenLogprobs.shape;
  const returns = ctx.input('returns', 'float32', shape);
  const vOld = ctx.input('values_old', 'float32', shape);
  const vfCoef = ctx.input('vf_coef', 'float32', []);
  const vfClip = ctx.input('vf_clip', 'float32', []);
  // V at position t is the value of the state token t+1 is emitted from, as log-prob t is its log-prob.
  const v = op.slice(ctx.values, [0], [shape[1]], [1]);
  const clipped = op.add(vOld, op.min(op.max(op.sub(v, vOld), op.neg(vfClip)), vfClip));
  const sq = (x: Value) => op.mul(op.sub(x, returns), op.sub(x, returns));
  const perToken = op.mul(op.max(sq(v), sq(clipped)), mask);
  const valueLoss = op.mul(op.div(op.reduceSum(perToken, [0, 1]), tokens), op.scalarLike(mask, 0.5));
  return { loss: op.add(loss, op.mul(vfCoef, valueLoss)), metrics: { ...metrics, value_loss: valueLoss } };
};

/** The policy part shared by both losses, with the own-token mask and its count for further terms. */
function policyTerms({ tokenLogprobs, input }: LossContext): {
  loss: Value;
  metrics: Record<string, Value>;
  mask: Value;
  tokens: Value;
} {
  const shape = tokenLogprobs.shape;
  const [b] = shape;
  const logpOld = input('logp_old', 'float32', shape);
  const mask = input('own_mask', 'float32', shape);
  const c = input('is_weights', 'float32', shape);
  const adv = input('advantages', 'float32', [b]);
  const eps = input('clip_eps', 'float32', []);
  const beta = input('kl_beta', 'float32', []);
  const one = op.scalarLike(mask, 1);
  const sumAll = (x: Value) => op.reduceSum(x, [...x.shape.keys()]);
  const tokens = op.max(sumAll(mask), one);

  // log rho_t = logp_new - logp_old on the agent's tokens; r = exp(sum_t log rho_t) per sequence.
  const logRho = op.mul(op.sub(tokenLogprobs, logpOld), mask);
  const logR = op.clip(op.reduceSum(logRho, [1]), -MAX_LOG_RATIO, MAX_LOG_RATIO);
  const r = op.exp(logR);
  const rClipped = op.min(op.max(r, op.sub(one, eps)), op.add(one, eps));
  const surrogate = op.min(op.mul(r, adv), op.mul(rClipped, adv)); // [B]
  // -mean over the agent's tokens of c_t * surrogate of the token's sequence.
  const weighted = op.mul(op.mul(c, mask), op.unsqueeze(surrogate, [1]));
  const policy = op.div(op.neg(sumAll(weighted)), tokens);
  // k3: (rho - 1) - log rho per token, averaged over the agent's tokens.
  const k3 = op.mul(op.sub(op.sub(op.exp(logRho), one), logRho), mask);
  const kl = op.div(sumAll(k3), tokens);

  const clipped = op.cast(op.not(op.equal(r, rClipped)), 'float32');
  return {
    loss: op.add(policy, op.mul(beta, kl)),
    metrics: { kl, ratio: op.reduceMean(r, [0]), clip_frac: op.reduceMean(clipped, [0]) },
    mask,
    tokens,
  };
}
