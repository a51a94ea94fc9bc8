// Advantages of docs/design §1.5 ("Advantages"): GRPO sequence advantages against an in-group baseline,
// and GAE over per-token rewards and values aggregated to one advantage per sequence. Both end with
// the same in-group normalisation and the clip to +-A_clip, as the SAT reference does
// (sat/advantage/seqaware.py). Samples belong to groups (the G samples of one prompt) through
// `groupIndex`, any integer label per sample.
import { InputError } from '../errors.ts';

/** The in-group baseline subtracted from each sequence return (`sat.group_baseline`). */
export type GroupBaseline = 'mean' | 'max';

export interface GrpoConfig {
  /** `sat.group_baseline`: subtract the group's mean or max return. */
  baseline: GroupBaseline;
  /** `sat.group_norm`: standardise the advantages within each group. */
  groupNorm: boolean;
  /** `sat.A_clip`: advantages are clipped to [-aClip, aClip]. */
  aClip: number;
}

export interface GaeConfig {
  /** `algorithm.gamma`: discount. */
  gamma: number;
  /** `algorithm.lam`: GAE lambda. */
  lam: number;
  /** `sat.A_clip`: sequence advantages are clipped to [-aClip, aClip]. */
  aClip: number;
}

export interface TokenGae {
  /** Per-token GAE advantages A_t. */
  advantages: Float64Array;
  /** Per-token value targets A_t + V_t. */
  returns: Float64Array;
}

export interface SequenceGae {
  /** One advantage per sequence: sum_t A_t, group-normalised, clipped. */
  sequenceAdvantages: Float64Array;
  /** Per-token value targets of each sequence (for the value loss). */
  returns: Float64Array[];
}

/** Added to the group's standard deviation before dividing, as in the reference. */
export const GROUP_NORM_EPS = 1e-8;

/**
 * GRPO (docs/design §1.5, Advantages, GRPO mode): A = clip(R - baseline(group), +-A_clip), optionally
 * group-normalised first.
 */
export function grpoAdvantages(
  rewards: ArrayLike<number>,
  groupIndex: ArrayLike<number>,
  config: GrpoConfig,
): Float64Array {
  checkFinite('rewards', rewards);
  checkClip(config.aClip);
  if (config.baseline !== 'mean' && config.baseline !== 'max') {
    throw new InputError(`group baseline must be 'mean' or 'max', got ${JSON.stringify(config.baseline)}`);
  }
  const advantages = Float64Array.from(rewards);
  for (const members of groups(groupIndex, rewards.length)) {
    const returns = members.map((i) => rewards[i]!);
    const baseline = config.baseline === 'max' ? Math.max(...returns) : mean(returns);
    for (const i of members) advantages[i] = rewards[i]! - baseline;
  }
  return clipAdvantages(config.groupNorm ? groupNormalize(advantages, groupIndex) : advantages, config.aClip);
}

/**
 * GAE (docs/design §1.5, Advantages, GAE mode): delta_t = r_t + gamma V_{t+1} - V_t (V_T = 0), A_t = delta_t + gamma
 * lam A_{t+1}.
 */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lam: number): TokenGae {
  if (rewards.length !== values.length) {
    throw new InputError(`GAE needs one value per token: ${rewards.length} rewards but ${values.length} values`);
  }
  checkFinite('rewards', rewards);
  checkFinite('values', values);
  checkUnit('gamma', gamma);
  checkUnit('lam', lam);
  const advantages = new Float64Array(rewards.length);
  const returns = new Float64Array(rewards.length);
  let next = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    const nextValue = t === rewards.length - 1 ? 0 : values[t + 1]!;
    next = rewards[t]! + gamma * nextValue - values[t]! + gamma * lam * next;
    advantages[t] = next;
    returns[t] = next + values[t]!;
  }
  return { advantages, returns };
}

/**
 * GAE sequence advantages (docs/design §1.5, GAE mode): clip(groupNorm(sum_t A_t), +-A_clip), plus per-token
 * returns.
 */
export function gaeSequenceAdvantages(
  rewards: readonly ArrayLike<number>[],
  values: readonly ArrayLike<number>[],
  groupIndex: ArrayLike<number>,
  config: GaeConfig,
): SequenceGae {
  if (rewards.length !== values.length) {
    throw new InputError(
      `GAE needs per-token values for every sequence: ${rewards.length} reward rows but ${values.length} value rows`,
    );
  }
  checkClip(config.aClip);
  const perToken = rewards.map((r, i) => gae(r, values[i]!, config.gamma, config.lam));
  const sums = Float64Array.from(perToken, ({ advantages }) => advantages.reduce((a, b) => a + b, 0));
  return {
    sequenceAdvantages: clipAdvantages(groupNormalize(sums, groupIndex), config.aClip),
    returns: perToken.map(({ returns }) => returns),
  };
}

/**
 * In-group normalisation: (x - mean_g) / (std_g + 1e-8), std_g the population std; groups of one are left as they
 * are.
 */
export function groupNormalize(x: ArrayLike<number>, groupIndex: ArrayLike<number>): Float64Array {
  checkFinite('advantages', x);
  const out = Float64Array.from(x);
  for (const members of groups(groupIndex, x.length)) {
    if (members.length < 2) continue;
    const xs = members.map((i) => x[i]!);
    const m = mean(xs);
    const std = Math.sqrt(mean(xs.map((v) => (v - m) ** 2)));
    for (const i of members) out[i] = (x[i]! - m) / (std + GROUP_NORM_EPS);
  }
  return out;
}

/** The clip of docs/design §1.5: A <- clip(A, -A_clip, A_clip). */
export function clipAdvantages(x: ArrayLike<number>, aClip: number): Float64Array {
  checkClip(aClip);
  return Float64Array.from(x, (v) => Math.min(aClip, Math.max(-aClip, v)));
}

/** Sample indices of each group, in order of first appearance. */
function groups(groupIndex: ArrayLike<number>, n: number): number[][] {
  if (groupIndex.length !== n) {
    throw new InputError(`groupIndex must give one group per sample: ${groupIndex.length} labels for ${n} samples`);
  }
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const g = groupIndex[i]!;
    if (!Number.isInteger(g)) throw new InputError(`groupIndex[${i}] must be an integer group label, got ${g}`);
    const members = byLabel.get(g);
    if (members) members.push(i);
    else byLabel.set(g, [i]);
  }
  return [...byLabel.values()];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function checkFinite(name: string, xs: ArrayLike<number>): void {
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i])) throw new InputError(`${name}[${i}] must be a finite number, got ${xs[i]}`);
  }
}

function checkClip(aClip: number): void {
  if (!(aClip > 0) || !Number.isFinite(aClip))
    throw new InputError(`A_clip must be a positive finite number, got ${aClip}`);
}

function checkUnit(name: string, x: number): void {
  if (!(x >= 0 && x <= 1)) throw new InputError(`${name} must lie in [0, 1], got ${x}`);
}
