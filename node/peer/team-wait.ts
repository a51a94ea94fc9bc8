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
/** A live holder unheard on the team's topics this long is reconnected to (host.ts reconnect). */
const RECONNECT_AFTER_MS = 20_000;

/** The stages the other slots' holders last said they are in (their heartbeats), by slot. */
export function othersStages(roster: Roster, me: PeerId): number[] {
  return roster.holders().flatMap((h, s) => (h && !h.equals(me) ? [roster.stageOf(s, h) ?? 0] : []));
}

/**
 * The stage the team is in as the other slots' peers say, by majority: the highest stage that more than half of them
 * say they are in or past (0 when none speaks). One peer whose heartbeats name a later stage than the team's cannot
 * move it (docs/design §4.15); in a team of two, the other peer's word is all there is.
 */
export function teamStage(roster: Roster, me: PeerId): number {
  return majorityStage(othersStages(roster, me));
}

/** The highest of `stages` that more than half of them reach (0 of none). */
export function majorityStage(stages: readonly number[]): number {
  return [...stages].sort((a, b) => b - a)[Math.floor(stages.length / 2)] ?? 0;
}

/**
 * Waits until every slot has a live holder that hears this peer's blocks and token topics (this peer's slot may be
 * held by another, whose replica this peer is), and `minPeers` peers, replicas included, claim the team's slots: true,
 * or false once `signal` aborts.
 */
export function waitForTeam(p: JoinedPeer, stage: number, signal: AbortSignal, minPeers = 0): Promise<boolean> {
  const topics = [blocksTopic(p.teamId), tokenTopic(p.teamId)];
  let said = 0;
  const since = Date.now();
  const unsubscribed = new Map<string, number>(); // holder -> since when it is not subscribed
  return until(
    () => {
      const missing: string[] = [];
      for (const [s, h] of p.roster.holders().entries()) {
        if (!h) missing.push(`slot ${s} has no peer`);
        else if (!h.equals(p.host.peerId) && !topics.every((t) => p.host.subscribers(t).some((x) => x.equals(h)))) {
          missing.push(`slot ${s}'s peer is not subscribed yet`);
          reconnectLate(p, s, h, unsubscribed);
        }
      }
      const peers = p.roster.holders().reduce((n, _, s) => n + p.roster.line(s, stage).length, 0);
      if (peers < minPeers) missing.push(`${peers} of ${minPeers} peers have claimed a slot`);
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
 * Reconnects to holder `h` once it has been unsubscribed for RECONNECT_AFTER_MS while its heartbeats come (a peer back
 * from a restart whose old connection this side had not reaped), and says so.
 */
function reconnectLate(p: JoinedPeer, slot: number, h: PeerId, unsubscribed: Map<string, number>): void {
  const key = h.toString();
  const at = unsubscribed.get(key) ?? Date.now();
  unsubscribed.set(key, at);
  if (Date.now() - at < RECONNECT_AFTER_MS) return;
  unsubscribed.set(key, Date.now());
  p.init.log(`slot ${slot}'s peer has not subscribed for ${RECONNECT_AFTER_MS / 1000} s: reconnecting to it`);
  p.host.reconnect(h).catch(() => undefined); // a failed dial is tried again a period later
}

/**
 * Done, a peer still serves what it made until the others, replicas included, are done too (their heartbeats say they
 * are past `stage`, or they are gone), for at most LINGER_MS: the last turn's shard and the slot's last state are
 * fetched from it.
 */
export async function linger(p: JoinedPeer, stage: number, signal: AbortSignal): Promise<void> {
  p.roster.setStage(stage);
  const me = p.host.peerId;
  const othersDone = () =>
    p.roster
      .holders()
      .every((_, s) => p.roster.line(s).every((peer) => peer.equals(me) || (p.roster.stageOf(s, peer) ?? 0) >= stage));
  await until(othersDone, { every: 200, timeoutMs: LINGER_MS, signal });
}
