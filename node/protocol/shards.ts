// Trajectory shards between the peers of a team (DESIGN.md §4): the producer keeps a shard in its
// block store and gossips a small signed Announce (stage, CID, how many turns it holds, its size);
// a peer that wants it — every learner wants the stage's complete shards, and in the chain workflow
// the peer of the next turn wants the partial ones its turn continues — fetches the bytes from the
// announcer over /sat/blocks/1, checks them against the CID and validates the shard before use. An
// announcer whose bytes are no valid shard is counted.
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { cidFromBytes } from './cid.ts';
import { type Announce, BlockKind, PROTOCOL_VERSION, type TrajectoryShard, decodeAnnounce, decodeTrajectoryShard, encodeAnnounce, encodeTrajectoryShard } from './codec.ts';
import type { PeerHost } from './host.ts';

export const blocksTopic = (team: string) => `sat/${team}/blocks`;

export interface ShardExchangeInit {
  team: string;
  slots: number;
  /** Which announced shards to fetch (default: all). */
  wants?: (announce: Announce) => boolean;
  /** Whether a peer is a member of the team (the roster's holders); others' announcements are dropped and counted. */
  isMember?: (peer: PeerId) => boolean;
  /** The stage this peer is in: announcements of earlier stages are rejected as stale. */
  stage?: () => number;
  onShard: (shard: TrajectoryShard, cid: CID, from: PeerId) => void;
}

export interface ShardCounters {
  published: number;
  received: number;
  /** Fetches that failed (the announcer gone, or other bytes than the CID). */
  fetchFailed: number;
  /** Announcers whose bytes were no valid shard, by peer id. */
  invalidFrom: Map<string, number>;
  /** Announcements from peers that are no members. */
  nonMember: number;
}

export class ShardExchange {
  readonly counters: ShardCounters = { published: 0, received: 0, fetchFailed: 0, invalidFrom: new Map(), nonMember: 0 };

  constructor(private readonly host: PeerHost, private readonly init: ShardExchangeInit) {}

  start(): void {
    const { team, slots } = this.init;
    this.host.subscribe(blocksTopic(team), (b) => decodeAnnounce(b, { team, slots, ...(this.init.stage ? { stage: this.init.stage() } : {}) }), (a, from) => {
      if (this.init.isMember && !this.init.isMember(from)) this.counters.nonMember++;
      else if (a.kind === BlockKind.SHARD && (this.init.wants?.(a) ?? true)) void this.fetch(a, from);
    });
  }

  /** Keeps `shard` for others to fetch and announces it; its CID. */
  async publish(shard: TrajectoryShard): Promise<CID> {
    const bytes = encodeTrajectoryShard(shard);
    const cid = this.host.blocks.store.put(bytes);
    const turns = Math.min(...shard.trajectories.map((t) => t.turns.length));
    await this.host.publish(blocksTopic(this.init.team), encodeAnnounce({
      version: PROTOCOL_VERSION, team: this.init.team, stage: shard.stage, kind: BlockKind.SHARD, cid: cid.bytes, turns, size: bytes.length,
    }));
    this.counters.published++;
    return cid;
  }

  private async fetch(a: Announce, from: PeerId): Promise<void> {
    const cid = cidFromBytes(a.cid!)!; // the codec checked it is one
    let bytes: Uint8Array;
    try {
      bytes = await this.host.blocks.fetch(from, cid);
    } catch {
      this.counters.fetchFailed++;
      return;
    }
    const d = decodeTrajectoryShard(bytes, { team: this.init.team, slots: this.init.slots, stage: a.stage });
    if (!d.ok || d.message.stage !== a.stage) {
      this.counters.invalidFrom.set(from.toString(), (this.counters.invalidFrom.get(from.toString()) ?? 0) + 1);
      return;
    }
    this.counters.received++;
    this.init.onShard(d.message, cid, from);
  }
}
