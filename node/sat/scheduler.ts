// ORDERAGENTS (docs/design §1.6, step 2): the block order sigma of a stage, computed by every peer from data
// it shares, so no coordinator is needed.
import { seededRng } from '../tasks/dataset.ts';
import { InputError } from '../agent/errors.ts';

export type SchedulerMode = 'static' | 'random' | 'greedy_info_gain';

/**
 * sigma for `n` agents: `static` is slot order; `random` a shuffle seeded by `seed` (e.g.
 * `${runSeed}:${stage}`); `greedy_info_gain` the agents by predicted gain, largest first (ties by slot).
 */
export function orderAgents(
  mode: SchedulerMode,
  n: number,
  seed: string,
  predictedGain: readonly number[] = [],
): number[] {
  const slots = Array.from({ length: n }, (_, i) => i);
  if (mode === 'static') return slots;
  if (mode === 'random') {
    const next = seededRng(`order:${seed}`);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [slots[i], slots[j]] = [slots[j], slots[i]];
    }
    return slots;
  }
  if (predictedGain.length !== n)
    throw new InputError(
      `greedy_info_gain needs one predicted gain per agent: ${predictedGain.length} for ${n} agents`,
    );
  return slots.sort((a, b) => predictedGain[b] - predictedGain[a] || a - b);
}
