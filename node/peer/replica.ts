// A slot's peers (docs/design §4.16): the first in the roster's line trains the slot, the others are its replicas.
// A replica follows each stage as the team makes it, checking every update as any peer does, and then takes the
// state its trainer offers, so that it is ready to carry the slot on from the next stage if the trainer goes.
import type { PeerId } from '@libp2p/interface';
import { until } from '../util/until.ts';
import type { JoinedPeer } from './join.ts';
import { takeState } from './slot-recovery.ts';

/** How long a replica waits, after following a stage, for its trainer to offer the slot's state of it. */
const STATE_WAIT_MS = 30_000;

/** What this peer is in `stage`: its slot's trainer, a replica, the peer that handed the slot over, or excluded. */
export type StageRole = 'trainer' | 'replica' | 'handed-over' | 'excluded';

export function stageRole(p: JoinedPeer, stage: number): StageRole {
  const me = p.host.peerId;
  if (p.roster.isExcluded(me.toString(), stage)) return 'excluded';
  const holder = p.roster.holder(p.slot, stage);
  if (!holder || holder.equals(me)) return 'trainer';
  // A newcomer's upgrade claim takes the slot from the peer that held it (docs/design §4.12).
  const upgrade = p.roster.upgradeFrom(p.slot, holder);
  return upgrade !== undefined && p.roster.holder(p.slot, stage - 1)?.equals(me) ? 'handed-over' : 'replica';
}

/** A stage a replica followed: who trained the slot in it, and whether the team kept the slot's update. */
export interface Followed {
  stage: number;
  trainer: PeerId;
  /** Undefined until the stage is logged. */
  updated?: boolean;
}

/**
 * After following `followed`, a replica takes the slot's state its trainer offers of that stage: the trained tensors,
 * the optimizer's moments and beta. When the team did not keep the slot's update (skipped, or refused as not holding
 * up), the replica keeps its own state, which the stage left as it was: the state before the update the team
 * refused. Resolves whether it took the state; one the trainer does not offer in time, or that fails, leaves the
 * replica as it was, and says so.
 */
export async function takeTrainerState(p: JoinedPeer, followed: Followed, signal: AbortSignal): Promise<boolean> {
  const { slot, init } = p;
  if (!followed.updated) return false;
  const offered = () =>
    p.states.newest(slot).find((s) => s.stage === followed.stage && s.peers.some((x) => x.equals(followed.trainer)));
  await until(() => offered() !== undefined, { every: 200, timeoutMs: STATE_WAIT_MS, signal });
  const state = offered();
  if (signal.aborted) return false;
  if (!state) {
    init.log(
      `slot ${slot}'s trainer offered no state of stage ${followed.stage} within ${STATE_WAIT_MS / 1000} s: this ` +
        "replica goes on from the slot's state before it",
    );
    return false;
  }
  try {
    await takeState(p, state, signal, {
      why: 'is offered by its trainer',
      taken: 'taken: this replica is in step with its trainer, ready to carry the slot on',
    });
    return true;
  } catch (err) {
    init.log(`slot ${slot}'s state of stage ${followed.stage} could not be taken: ${(err as Error).message}`);
    return false;
  }
}
