// How a stage's evaluation on a network team reaches the agents on the other peers.
import type { StageEvalLink } from '../sat/evaluate.ts';
import type { PeerLink } from './peer-link.ts';

/** `stage`'s evaluation through the link: the other peers' turns, and each one's solo rollout (by its slot's name). */
export function evalLink(link: PeerLink, stage: number): StageEvalLink {
  const solo = (slot: number) => `alone-${slot}/0`;
  return {
    remoteTurn: (rollout, slot) => link.remoteTurn(stage, rollout, slot),
    shareTurn: (rollout, ts) => link.shareTurn(stage, rollout, ts),
    shareAlone: (slot, ts) => link.shareTurn(stage, solo(slot), ts),
    remoteAlone: (slot) => link.rollout(stage, solo(slot)),
  };
}
