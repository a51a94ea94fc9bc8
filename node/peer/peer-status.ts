// A running peer in the operator's view (docs/design §7): its roster (who holds each slot, since when, last
// heard), its stage and the token's position, the stages it logged, and its metrics — the network's
// (host-status.ts) and the team's: stages done, the last stage's reward and accuracy, KL quantiles, backtracks.
import type { PeerId } from '@libp2p/interface';
import type { LogRing } from '../ops/log-ring.ts';
import type { MetricFamily, RosterEntry, StatusSnapshot, StatusSource } from '../ops/status-snapshot.ts';
import type { PeerHost } from '../protocol/host.ts';
import type { Roster } from '../protocol/roster.ts';
import type { ShardCounters } from '../protocol/shards.ts';
import type { TokenCounters } from '../protocol/token-passing.ts';
import { shortId } from '../util/short-id.ts';
import { hostMetrics } from './host-status.ts';
import type { PeerChunks } from './peer-chunks.ts';
import type { SlotStatesCounters } from './slot-states.ts';
import { type LoggedRow, stagePoint, stageRowsReader } from './stage-rows.ts';

/** A counter map's refusals under `source`. */
const reasons = (source: string, counts: ReadonlyMap<string, number>) =>
  [...counts].map(([reason, count]) => ({ source, reason, count }));

/** What the view reads of a peer (a Peer, or a stand-in in tests). */
export interface StatusPeer {
  host: PeerHost;
  teamId: string;
  slot: number;
  roster: Pick<Roster, 'stage' | 'holders' | 'line' | 'heard' | 'counters' | 'exclusions'>;
  link: {
    stageOrder: readonly number[];
    token: { silence: { position: number; ms: number }; counters: TokenCounters };
    shards: { counters: Pick<ShardCounters, 'nonMember' | 'invalidFrom'> };
    forged: ReadonlyMap<string, number>;
    refusedFrom: ReadonlyMap<string, number>;
    refusedChunks: ReadonlyMap<string, number>;
  };
  chunks: Pick<PeerChunks, 'refused'>;
  digests: { mismatchFrom: ReadonlyMap<string, number> };
  states: { counters: Pick<SlotStatesCounters, 'dropped'> };
  attestations: { dropped: ReadonlyMap<string, number> };
}

/** The token's counters shown by kind in `token_passes_total` (its refusals are rejected messages). */
const TOKEN_PASS_KINDS = [
  'handoffs',
  'acked',
  'takeovers',
  'ignored',
] as const satisfies readonly (keyof TokenCounters)[];

const total = (counts: ReadonlyMap<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);

const seconds = (ms: number) => Math.max(0, Math.round(ms / 100) / 10);

function rosterOf(peer: StatusPeer, now: number): RosterEntry[] {
  return peer.roster.holders().map((holder: PeerId | undefined, slot) => {
    if (!holder) return { slot, self: false };
    const heard = peer.roster.heard(slot, holder);
    const replicas = peer.roster
      .line(slot)
      .slice(1)
      .map((p) => shortId(p.toString()) + (p.equals(peer.host.peerId) ? '*' : ''));
    return {
      slot,
      peer: shortId(holder.toString()),
      self: holder.equals(peer.host.peerId),
      ...(replicas.length ? { replicas } : {}),
      ...(heard
        ? {
            claimAgeS: seconds(now - heard.claimTime),
            heartbeatAgeS: seconds(now - heard.lastSeen),
            ...(heard.stage !== undefined ? { stage: heard.stage } : {}),
          }
        : {}),
    };
  });
}

/** The team's metric families, from the peer's stage log and its roster and token. */
function teamMetrics(peer: StatusPeer, rows: readonly LoggedRow[]): MetricFamily[] {
  const last = rows.at(-1);
  const token = peer.link.token;
  const backtracks = new Map<string, number>();
  for (const r of rows) for (const a of r.agents) backtracks.set(a.name, (backtracks.get(a.name) ?? 0) + a.backtracks);
  return [
    { name: 'stages_done', help: 'stages this peer logged', type: 'gauge', samples: [{ value: rows.length }] },
    { name: 'stage', help: 'the stage this peer is in', type: 'gauge', samples: [{ value: peer.roster.stage }] },
    {
      name: 'token_position',
      help: "the token's position in the current stage (the highest known held; absent before a stage has begun)",
      type: 'gauge',
      samples: token.silence.position < 0 ? [] : [{ value: token.silence.position }],
    },
    {
      name: 'reward',
      help: "mean team reward of the last stage's rollouts",
      type: 'gauge',
      samples: last ? [{ value: last.reward }] : [],
    },
    {
      name: 'test_accuracy',
      help: "the team's greedy accuracy on the held-out set after the last stage",
      type: 'gauge',
      samples: last ? [{ value: last.test_accuracy }] : [],
    },
    {
      name: 'kl_quantile',
      help: "each agent's per-state KL quantile in the last stage (the trust-region test)",
      type: 'gauge',
      labels: ['agent'],
      samples: (last?.agents ?? []).map((a) => ({ labels: { agent: a.name }, value: a.klQuantile })),
    },
    {
      name: 'backtracks_total',
      help: "each agent's trust-region backtracks over the logged stages",
      type: 'counter',
      labels: ['agent'],
      samples: [...backtracks].map(([agent, value]) => ({ labels: { agent }, value })),
    },
    {
      name: 'stage_part_seconds',
      help: "where the last stage's time went, by part (rollout, update, network, eval)",
      type: 'gauge',
      labels: ['part'],
      samples: Object.entries(last?.time ?? {}).map(([part, value]) => ({ labels: { part }, value })),
    },
    {
      name: 'token_passes_total',
      help: 'token passes by kind: handoffs sent, acked, takeovers, ignored (refused: rejected_messages_total)',
      type: 'counter',
      labels: ['kind'],
      samples: TOKEN_PASS_KINDS.map((kind) => ({ labels: { kind }, value: token.counters[kind] })),
    },
    {
      name: 'slots_held',
      help: 'slots of the team with a live holder',
      type: 'gauge',
      samples: [{ value: peer.roster.holders().filter(Boolean).length }],
    },
    {
      name: 'slot_replicas',
      help: 'live replicas of each slot behind its trainer (docs/design §4.16)',
      type: 'gauge',
      labels: ['slot'],
      samples: peer.roster
        .holders()
        .map((_, slot) => ({ labels: { slot: String(slot) }, value: Math.max(0, peer.roster.line(slot).length - 1) })),
    },
  ];
}

/**
 * The operator's view of a peer still joining team `team` (its id, when known before joining): what `dataDir`'s stage log holds and the
 * warnings in `ring`, with no peer id, roster or token yet. A status server started before the peer serves it
 * until the peer's own view takes over, so that a busy `--http` port is found before anything starts.
 */
export function joiningStatusSource(team: string | undefined, dataDir: string, ring: LogRing): StatusSource {
  const rows = stageRowsReader(dataDir);
  return {
    snapshot(): StatusSnapshot {
      const logged = rows();
      return {
        role: 'peer',
        peerId: '',
        joining: true,
        ...(team !== undefined ? { team } : {}),
        stage: 0,
        stagesDone: logged.length,
        roster: [],
        stages: logged.map(stagePoint),
        connections: 0,
        errors: ring.entries(),
        time: Date.now(),
      };
    },
    metrics: () => [],
  };
}

/** The operator's view of `peer`, its stages read from `dataDir`'s stage log and its warnings from `ring`. */
export function peerStatusSource(peer: StatusPeer, dataDir: string, ring: LogRing): StatusSource {
  const rows = stageRowsReader(dataDir);
  return {
    snapshot(): StatusSnapshot {
      const now = Date.now();
      const logged = rows();
      const { position, ms } = peer.link.token.silence;
      const slot = peer.link.stageOrder[position];
      return {
        role: 'peer',
        peerId: peer.host.peerId.toString(),
        team: peer.teamId,
        slot: peer.slot,
        stage: peer.roster.stage,
        stagesDone: logged.length,
        token: { position, ...(slot !== undefined ? { slot } : {}), silentS: position < 0 ? 0 : seconds(ms) },
        roster: rosterOf(peer, now),
        excluded: peer.roster.exclusions().map((e) => ({ ...e, peer: shortId(e.peer) })),
        stages: logged.map(stagePoint),
        connections: peer.host.libp2p.getPeers().length,
        errors: ring.entries(),
        time: now,
      };
    },
    metrics: () => [
      ...teamMetrics(peer, rows()),
      ...hostMetrics(peer.host, {
        byReason: [
          ...reasons('roster', peer.roster.counters.dropped),
          ...reasons('chunks', peer.chunks.refused.byReason),
          ...reasons('states', peer.states.counters.dropped),
          ...reasons('attestations', peer.attestations.dropped),
          { source: 'token', reason: 'refused', count: peer.link.token.counters.rejected },
          { source: 'blocks', reason: 'bad-request', count: peer.host.blocks.counters.badRequests },
          { source: 'blocks', reason: 'non-member', count: peer.link.shards.counters.nonMember },
          { source: 'blocks', reason: 'forged', count: total(peer.link.forged) },
          { source: 'updates', reason: 'refused', count: total(peer.link.refusedFrom) },
          { source: 'roster', reason: 'backdated', count: peer.roster.counters.backdated },
          { source: 'blocks', reason: 'chunk-refused', count: total(peer.link.refusedChunks) },
          { source: 'heartbeats', reason: 'digest-mismatch', count: total(peer.digests.mismatchFrom) },
        ],
        bySender: [
          peer.link.token.counters.rejectedFrom,
          peer.host.blocks.counters.badFrom,
          peer.host.blocks.counters.corruptFrom,
          peer.link.shards.counters.invalidFrom,
          peer.link.forged,
          peer.link.refusedFrom,
          peer.link.refusedChunks,
          peer.digests.mismatchFrom,
          peer.chunks.refused.bySender,
        ],
      }),
    ],
  };
}
