// The sequence-aware on-policy estimator of docs/design §1.7: while agent sigma(i) updates, a trajectory
// sampled under pi_cur is re-weighted towards the intermediate team policy pi^{i-1}, in which agents
// sigma(1..i-1) are already updated. Only their tokens change probability, so the weight of token t is
// the product of pi_new/pi_cur over the updated agents' tokens so far, truncated at 1.
import { InputError } from '../errors.ts';

/** One trajectory's tokens in decoding order, as parallel arrays (one entry per token). */
export interface TrajectoryLogps {
  /** Slot index of the agent that emitted each token. */
  agent: ArrayLike<number>;
  /** log pi_cur(token | state): the team that sampled the batch. */
  logpCur: ArrayLike<number>;
  /** log pi_new(token | state) under the token's agent after its update; read only for tokens of updated agents. */
  logpNew: ArrayLike<number>;
}

/**
 * Truncated IS weights (docs/design §1.7, sequence-aware estimator):
 * c_t = min(1, exp(clip(S_t, -maxIsRatioClip, maxIsRatioClip))), S_t = sum over u <= t with agent(u) in
 * `updatedAgents` of (logpNew_u - logpCur_u). The sum includes token t itself; the loss reads c_t only on
 * the updating agent's own tokens, which are never in `updatedAgents`, so there S_t is exactly the
 * log-ratio pi^{i-1}/pi_cur of the state the token was emitted from. `maxIsRatioClip` is
 * `sat.max_is_ratio_clip` and clips the running sum, not each term.
 */
export function truncatedIsWeights(
  trajectory: TrajectoryLogps,
  updatedAgents: ReadonlySet<number>,
  maxIsRatioClip: number,
): Float64Array {
  return truncate(isRatios(trajectory, updatedAgents, maxIsRatioClip));
}

/** c_t = min(1, rho_t). */
export const truncate = (rho: Float64Array): Float64Array => rho.map((x) => Math.min(1, x));

/**
 * rho_t = exp(clip(S_t, +-maxIsRatioClip)) before truncation (see truncatedIsWeights): rho_t - c_t is what truncation
 * drops.
 */
export function isRatios(
  trajectory: TrajectoryLogps,
  updatedAgents: ReadonlySet<number>,
  maxIsRatioClip: number,
): Float64Array {
  const { agent, logpCur, logpNew } = trajectory;
  if (logpCur.length !== agent.length || logpNew.length !== agent.length) {
    throw new InputError(
      `a trajectory needs one agent, logpCur and logpNew per token: got ${agent.length}, ${logpCur.length} and ${logpNew.length}`,
    );
  }
  if (!(maxIsRatioClip >= 0)) throw new InputError(`max_is_ratio_clip must be a number >= 0, got ${maxIsRatioClip}`);
  const ratios = new Float64Array(agent.length);
  let logRatio = 0;
  for (let t = 0; t < agent.length; t++) {
    const a = agent[t]!;
    if (!Number.isInteger(a) || a < 0)
      throw new InputError(`agent[${t}] must be an agent slot index (integer >= 0), got ${a}`);
    if (updatedAgents.has(a)) {
      if (!Number.isFinite(logpNew[t]) || !Number.isFinite(logpCur[t])) {
        throw new InputError(
          `token ${t} of updated agent ${a} needs finite log-probs, got logpNew ${logpNew[t]} and logpCur ${logpCur[t]}`,
        );
      }
      logRatio += logpNew[t]! - logpCur[t]!;
    }
    ratios[t] = Math.exp(Math.min(maxIsRatioClip, Math.max(-maxIsRatioClip, logRatio)));
  }
  return ratios;
}
