// The team's reward change over a stage, measured on the stage's own rollouts (docs/design §1.11, "The
// reward change"): every transcript was sampled under pi_cur, and once the stage's updates are made the
// ratio W = pi_new(transcript) / pi_cur(transcript) is the product over its turns of each agent's own
// token ratios, all of which every peer knows. E_cur[(W - 1)(R - b)] = J(pi_new) - J(pi_cur) for any b
// that does not depend on the transcript itself; the leave-one-out mean of its group is such a b.
import { probit, sampleStandardDeviation } from 'simple-statistics';
import { mean } from '../util/arrays.ts';
import type { StageRollout, Trajectory } from './stage-rollout.ts';

export interface RewardChange {
  /** The estimate of J(pi_new) - J(pi_cur): the mean over transcripts of (W - 1)(R - b). */
  estimate: number;
  /** Its one-sided confidence term at 1 - delta_conf: z_{1 - delta_conf} times the standard error over groups. */
  confidence: number;
  /** estimate - confidence. */
  lowerBound: number;
  /** The held-out prompts the standard error is taken over. */
  groups: number;
}

/** log W of a transcript: the sum over its turns' tokens of log pi_new - log pi_cur (0 where no update was made). */
function logRatio(t: Trajectory): number {
  let sum = 0;
  t.logpNew.forEach((next, turn) => {
    if (!next) return;
    const cur = t.logpCur[turn];
    for (let k = 0; k < next.length; k++) sum += next[k] - cur[k];
  });
  return sum;
}

/**
 * The stage's reward change (docs/design §1.11) from its held-out rows: each transcript's (W_j - 1)(R_j - b_j), b_j
 * the mean reward of the other transcripts of its group; per prompt (a group, or in the ensemble one group per
 * agent: group mod `prompts`) their mean; over the prompts the mean and a normal one-sided confidence term.
 */
export function rewardChange(heldOut: StageRollout, deltaConf: number, prompts: number): RewardChange {
  const groups = new Map<number, Trajectory[]>();
  for (const t of heldOut) groups.set(t.group, [...(groups.get(t.group) ?? []), t]);
  const perPrompt = new Map<number, number[]>();
  for (const [group, rows] of groups) {
    const total = rows.reduce((s, t) => s + t.reward, 0);
    const terms = perPrompt.get(group % prompts) ?? [];
    for (const t of rows) {
      const baseline = rows.length > 1 ? (total - t.reward) / (rows.length - 1) : 0;
      terms.push(Math.expm1(logRatio(t)) * (t.reward - baseline));
    }
    perPrompt.set(group % prompts, terms);
  }
  const units = [...perPrompt.values()].map(mean);
  if (units.length === 0) return { estimate: 0, confidence: 0, lowerBound: 0, groups: 0 };
  const estimate = mean(units);
  // One prompt gives no spread to take: its change is not bounded.
  const confidence =
    units.length > 1 ? (probit(1 - deltaConf) * sampleStandardDeviation(units)) / Math.sqrt(units.length) : Infinity;
  return { estimate, confidence, lowerBound: estimate - confidence, groups: units.length };
}
