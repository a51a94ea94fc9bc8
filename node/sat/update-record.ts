// An agent's stage record (docs/design §1.10), computed alike by its own peer and by every other peer from
// the update's published log-probs: the KL quantile, gain, zeta, N, delta, reward and gap are recomputed
// (docs/design §4.15); only the gap, which a chunk's two copies give to within rounding, is logged as claimed once it
// stands. A claim the log-probs contradict, a kept update outside its trust region, or log-probs that moved without
// a kept update, are refused.
import type { UpdateRecord } from '../agent/learner/update.ts';
import { surrogateGain } from '../agent/learner/update.ts';
import { perStateKl, quantile } from '../agent/learner/trust-region.ts';
import { truncate } from '../agent/learner/importance.ts';
import type { ConfigValues } from '../config/load.ts';
import { meanOver } from '../util/arrays.ts';
import { RESCORE_TOLERANCE } from './replica-check.ts';
import type { AgentStageRecord } from './stage.ts';
import type { AgentAdvantages } from './stage-advantages.ts';
import { type Trajectory, meanReward, ownIds, ownPositions, scoringGap } from './stage-rollout.ts';

/** What only the update's maker knows: how its line search went (its record's other numbers are recomputed). */
export type UpdateClaim = Pick<UpdateRecord, 'accepted' | 'backtracks' | 'step' | 'beta' | 'gain' | 'stage0'>;

/** An update's inputs as every peer holds them: the agent's rows (learned, then held out) and their log-probs. */
export interface UpdateInputs {
  slot: number;
  name: string;
  /** The trajectories it spoke in: those it learned from first, then the held-out ones (docs/design §1.11). */
  rows: readonly Trajectory[];
  /** Per row, the agent's tokens' log-probs under pi_cur (also set in `rows`) and under its new policy. */
  logpCur: readonly Float32Array[];
  logpNew: readonly Float32Array[];
  /** Per learned row, rho_t on its tokens under pi^{i-1} (stage-update.ts ownRatios). */
  rho: readonly Float64Array[];
  /** Its advantages; undefined in GAE mode on another peer (its value head is there), whose gain is then its claim. */
  advantages?: AgentAdvantages;
}

/** The record of an update with `inputs`, as every peer computes it (docs/design §1.9-§1.11). */
export function updateRecord(cfg: ConfigValues, inputs: UpdateInputs, claim: UpdateClaim): AgentStageRecord {
  const { slot, name, rows, logpCur, logpNew, rho, advantages } = inputs;
  const learned = rows.filter((t) => !t.heldOut).length;
  const kls = logpCur.slice(0, learned).map((cur, r) => (cur.length ? perStateKl(cur, logpNew[r]) : 0));
  const accepted = claim.accepted;
  const gain = advantages
    ? surrogateGain(
        {
          rows: rows.slice(0, learned).map((t) => ownIds(t, slot)),
          positions: rows.slice(0, learned).map((t) => ownPositions(t, slot)),
          logpOld: logpCur.slice(0, learned),
          isWeights: rho.map(truncate),
          advantages: advantages.sequence,
        },
        logpNew.slice(0, learned),
        cfg.sat.epsilon,
      )
    : claim.gain;
  // An update that was not kept moved nothing: no occupancy shift, no estimator bias.
  return agentRecord({
    slot,
    name,
    accepted,
    backtracks: claim.backtracks,
    step: claim.step,
    beta: claim.beta,
    klQuantile: kls.length ? quantile(kls, cfg.algorithm.klCtrl.quantile) : 0,
    gain,
    reward: meanReward(rows),
    delta: accepted ? cfg.algorithm.klCtrl.targetKl : 0,
    n: learned,
    zeta: accepted ? zetaOf(rho, cfg.certificate.advantageMax) : 0,
    gap: scoringGap(rows, slot),
    ...(claim.stage0 ? { stage0: claim.stage0 } : {}),
  });
}

/** Numbers an implementation may compute in another order: equal within this relative tolerance. */
const TOLERANCE = 1e-6;

/**
 * Why `claimed`, the record an update came with, is refused against `computed`, the record of its log-probs; undefined
 * when it stands: every recomputed number as claimed, a kept update within its trust region (docs/design §1.9), and an
 * update not kept leaving every log-prob where it was.
 */
export function refusalOf(
  claimed: AgentStageRecord,
  computed: AgentStageRecord,
  inputs: Pick<UpdateInputs, 'logpCur' | 'logpNew'>,
): string | undefined {
  const fields = ['klQuantile', 'gain', 'reward', 'delta', 'n', 'zeta'] as const;
  for (const f of fields) {
    const [a, b] = [claimed[f], computed[f]];
    if (!(Math.abs(a - b) <= TOLERANCE * Math.max(1e-3, Math.abs(a), Math.abs(b))))
      return `its record claims ${f} ${a}, its log-probs give ${b}`;
  }
  // The gap reads the sampling log-probs, which two copies of a chunk made twice carry to within rounding (§4.17):
  // each within the re-scoring tolerance of what the weights give, so within twice it of each other.
  if (!(Math.abs(claimed.gap - computed.gap) <= 2 * RESCORE_TOLERANCE))
    return `its record claims gap ${claimed.gap}, its log-probs give ${computed.gap}`;
  if (computed.accepted && computed.klQuantile > computed.delta)
    return `its update leaves the trust region: KL quantile ${computed.klQuantile} > delta ${computed.delta}`;
  if (!computed.accepted && inputs.logpCur.some((cur, r) => cur.some((x, j) => x !== inputs.logpNew[r][j])))
    return 'its log-probs moved though its record keeps no update';
  return undefined;
}

/** zeta_i: what truncating rho at 1 drops, in advantage units (A_max * mean (rho - c)). */
const zetaOf = (rho: readonly Float64Array[], aMax: number): number =>
  aMax *
  meanOver(
    rho,
    (r) => r.reduce((s, x) => s + Math.max(0, x - 1), 0),
    (r) => r.length,
  );

/** An agent's record with its fields in one order, wherever it was made (so every peer writes the same rows). */
export function agentRecord(r: AgentStageRecord): AgentStageRecord {
  const { slot, name, accepted, backtracks, step, beta, klQuantile, gain, reward, delta, n, zeta, gap } = r;
  return {
    ...{ slot, name, accepted, backtracks, step, beta, klQuantile, gain, reward, delta, n, zeta, gap },
    ...(r.stage0 ? { stage0: r.stage0 } : {}),
    ...(r.skipped ? { skipped: r.skipped } : {}),
    ...(r.refused ? { refused: r.refused } : {}),
  };
}

/** The record of an agent that made no update this stage (or one refused, and why): nothing moved, nothing learned. */
export function skippedRecord(slot: number, name: string, reward: number, refused?: string): AgentStageRecord {
  return agentRecord({
    slot,
    name,
    reward,
    accepted: false,
    skipped: true,
    backtracks: 0,
    step: 0,
    beta: 0,
    klQuantile: 0,
    gain: 0,
    delta: 0,
    n: 0,
    zeta: 0,
    gap: 0,
    ...(refused ? { refused } : {}),
  });
}
