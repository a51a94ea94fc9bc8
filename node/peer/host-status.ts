// What any libp2p process shows of its network in the operator's view (docs/design §7): bytes by protocol,
// gossip accepted and refused by topic, refusals by reason and by sender, peers connected. A peer adds its
// team's part (peer-status.ts); the bootstrap shows this alone.
import { bump } from '../protocol/counters.ts';
import type { PeerHost } from '../protocol/host.ts';
import type { LogRing } from '../ops/log-ring.ts';
import type { MetricFamily, StatusSnapshot, StatusSource } from '../ops/status-snapshot.ts';

/** A refusal counted elsewhere than on a topic: its source and reason, or its sender. */
export interface Refusals {
  byReason: { source: string; reason: string; count: number }[];
  bySender: ReadonlyMap<string, number>[];
}

/** `sat/<team>/<kind>` -> `<kind>`: topic labels stay few, whatever the team. */
const topicKind = (topic: string) => topic.split('/').at(-1) ?? topic;

/**
 * Senders shown by name in `rejected_messages_by_sender_total`: a peer chooses its id, so an attacker could make
 * as many series as ids; the rest count as 'other'.
 */
export const SENDERS_SHOWN = 20;

/**
 * Sums counter maps by sender: the `shown` senders with the most, in that order (ties by id), then 'other' (the
 * rest, and what the maps counted as other already) when it is not 0.
 */
export function topSenders(
  maps: readonly ReadonlyMap<string, number>[],
  shown = SENDERS_SHOWN,
): [sender: string, count: number][] {
  const sum = new Map<string, number>();
  for (const m of maps) for (const [k, n] of m) bump(sum, k, n);
  const named = [...sum].filter(([k]) => k !== 'other').sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  const other = (sum.get('other') ?? 0) + named.slice(shown).reduce((acc, [, n]) => acc + n, 0);
  return [...named.slice(0, shown), ...(other > 0 ? [['other', other] as [string, number]] : [])];
}

/** The network's metric families of `host`, with the refusals counted beside its topics. */
export function hostMetrics(host: PeerHost, more: Refusals = { byReason: [], bySender: [] }): MetricFamily[] {
  const topics = [...host.counters];
  const bytes = (direction: string, map: ReadonlyMap<string, number>) =>
    [...map].map(([protocol, value]) => ({ labels: { protocol, direction }, value }));
  return [
    {
      name: 'bytes_total',
      help: 'bytes carried by libp2p streams, by protocol and direction (in, out)',
      type: 'counter',
      labels: ['protocol', 'direction'],
      samples: [...bytes('in', host.traffic.bytesIn), ...bytes('out', host.traffic.bytesOut)],
    },
    {
      name: 'gossip_accepted_total',
      help: 'gossip messages accepted, by topic',
      type: 'counter',
      labels: ['topic'],
      samples: topics.map(([t, c]) => ({ labels: { topic: topicKind(t) }, value: c.accepted })),
    },
    {
      name: 'rejected_messages_total',
      help: 'messages refused, by where (a topic, or another part) and why',
      type: 'counter',
      labels: ['source', 'reason'],
      samples: [
        ...topics.flatMap(([t, c]) =>
          [...c.rejected].map(([reason, value]) => ({ labels: { source: topicKind(t), reason }, value })),
        ),
        ...more.byReason.map(({ source, reason, count }) => ({ labels: { source, reason }, value: count })),
      ],
    },
    {
      name: 'rejected_messages_by_sender_total',
      help: `messages refused, by the peer that sent them (the ${SENDERS_SHOWN} that sent the most; the rest as other)`,
      type: 'counter',
      labels: ['sender'],
      samples: topSenders([...topics.map(([, c]) => c.rejectedFrom), ...more.bySender]).map(([sender, value]) => ({
        labels: { sender },
        value,
      })),
    },
    {
      name: 'peers_connected',
      help: 'peers this process has a connection with',
      type: 'gauge',
      samples: [{ value: host.libp2p.getPeers().length }],
    },
  ];
}

/** The bootstrap's view: its network alone. */
export function hostStatusSource(host: PeerHost, ring: LogRing): StatusSource {
  return {
    snapshot: (): StatusSnapshot => ({
      role: 'bootstrap',
      peerId: host.peerId.toString(),
      stage: 0,
      stagesDone: 0,
      roster: [],
      stages: [],
      connections: host.libp2p.getPeers().length,
      errors: ring.entries(),
      time: Date.now(),
    }),
    metrics: () => hostMetrics(host),
  };
}
