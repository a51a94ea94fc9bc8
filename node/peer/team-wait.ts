// A peer waiting on the rest of its team (docs/design §5.1): before a stage, for every slot's peer to be
// there and to hear it; once done, for the others to be done too.
import type { PeerId } from '@libp2p/interface';
import type { Roster } from '../protocol/roster.ts';
import { blocksTopic } from '../protocol/shards.ts';
import { tokenTopic } from '../protocol/token-passing.ts';
import { until } from '../util/until.ts';
import type { JoinedPeer } from './join.ts';

/** How long a peer that is done waits for the others to be done too. */
const LINGER_MS = 60_000;

/** The stages the other slots' holders last said they are in (their heartbeats), by slot. */
export function othersStages(roster: Roster, me: PeerId): number[] {
  return roster.holders().flatMap((h, s) => (h && !h.equals(me) ? [roster.stageOf(s, h) ?? 0] : []));
}

/**
 * Waits until every slot has a live holder that hears this peer's blocks and token topics: true, or false once
 * `signal` aborts.
 */
export function waitForTeam(p: JoinedPeer, stage: number, signal: AbortSignal): Promise<boolean> {
  const topics = [blocksTopic(p.teamId), tokenTopic(p.teamId)];
  let said = 0;
  const since = Date.now();
  return until(
    () => {
      const missing = p.roster
        .holders()
        .flatMap((h, s) =>
          !h
            ? [`slot ${s} has no peer`]
            : h.equals(p.host.peerId)
              ? []
              : topics.every((t) => p.host.subscribers(t).some((x) => x.equals(h)))
                ? []
                : [`slot ${s}'s peer is not subscribed yet`],
        );
      if (missing.length === 0) return true;
      if (Date.now() - said > 10_000) {
        const peers = p.host.libp2p.getPeers().length;
        p.init.log(
          `stage ${stage}: waiting for the team (${missing.join(', ')}) for ${Math.round((Date.now() - since) / 1000)} s, ` +
            `${peers} peer${peers === 1 ? '' : 's'} connected`,
        );
        said = Date.now();
      }
      return false;
    },
    { every: 100, signal },
  );
}

/**
 * Done, a peer still serves what it made until the others are done too (their heartbeats say they
 * are past `stage`, or they are gone), for at most LINGER_MS: the last turn's shard is fetched from it.
 */
export async function linger(p: JoinedPeer, stage: number, signal: AbortSignal): Promise<void> {
  p.roster.setStage(stage);
  const othersDone = () => othersStages(p.roster, p.host.peerId).every((s) => s >= stage);
  await until(othersDone, { every: 200, timeoutMs: LINGER_MS, signal });
}
