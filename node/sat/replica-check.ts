// A replica's check of its slot's update (docs/design §4.16): the replica holds the slot's state from before the
// stage, so it scores the update's tokens itself, once as it is (logp_cur) and once under the new policy tensors the
// update names (logp_new). Both must be what the update says, within a tolerance for the sums of another machine.
import type { Agent } from '../agent/agent.ts';
import { concat } from '../util/arrays.ts';
import type { ArrivedUpdate } from './stage.ts';
import { type Trajectory, ownIds, ownPositions } from './stage-rollout.ts';

/**
 * How far a re-scored log-prob may be from the one an update gives (nats): scoring on another machine, thread count
 * or batch sums in another order; a cheat moves them far more.
 */
export const RESCORE_TOLERANCE = 1e-3;

/**
 * Why `got`, the update of `slot` over `rows` (in the update's order), does not hold up as this replica re-scores it;
 * undefined when it does. The agent is in the slot's state before the update, and is left so.
 */
export async function replicaCheck(
  agent: Agent,
  rows: readonly Trajectory[],
  slot: number,
  got: ArrivedUpdate,
): Promise<string | undefined> {
  const ids = rows.map((t) => ownIds(t, slot));
  const at = rows.map((t) => ownPositions(t, slot));
  const cur = differs(concat(await agent.logprobsAt(ids, at)), got.logpCur);
  if (cur) return `its logp_cur is not what the slot's state gives: ${cur}`;
  const tensors = await got.weights();
  const before = agent.trainer.snapshot();
  try {
    agent.trainer.setParams(tensors);
    const next = differs(concat(await agent.logprobsAt(ids, at)), got.logpNew);
    return next ? `its logp_new is not what the weights it names give: ${next}` : undefined;
  } finally {
    agent.trainer.restore(before);
  }
}

/** Where `mine` and `theirs` differ past the tolerance: the first such token, its two values and how many differ. */
function differs(mine: Float32Array, theirs: Float32Array): string | undefined {
  if (mine.length !== theirs.length) return `${theirs.length} log-probs for ${mine.length} tokens`;
  let first = -1;
  let count = 0;
  for (let i = 0; i < mine.length; i++)
    if (!(Math.abs(mine[i] - theirs[i]) <= RESCORE_TOLERANCE)) {
      if (first < 0) first = i;
      count++;
    }
  if (first < 0) return undefined;
  return (
    `token ${first} re-scores ${mine[first].toFixed(4)}, it says ${theirs[first].toFixed(4)} ` +
    `(${count} of ${mine.length} differ by more than ${RESCORE_TOLERANCE})`
  );
}
