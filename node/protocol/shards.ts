// Trajectory shards between the peers of a team (DESIGN.md §4): the producer keeps a shard in its
// block store and gossips a small signed Announce (stage, CID, how many turns it holds, its size);
// a peer that wants it — every learner wants the stage's complete shards, and in the chain workflow
// the peer of the next turn wants the partial ones its turn continues — fetches the bytes from the
// announcer over /sat/blocks/1, checks them against the CID and validates the shard before use. An
// announcer whose bytes are no valid shard is counted. Log-prob updates travel the same way (their
// announcements say UPDATE), so a peer that was not handed the token learns each update too.
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { cidFromBytes } from './cid.ts';
import {
  type Announce, BlockKind, type LogprobUpdate, MAX_BYTES, PROTOCOL_VERSION, type TrajectoryShard,
  decodeAnnounce, decodeLogprobUpdate, decodeTrajectoryShard, encodeAnnounce, encodeLogprobUpdate, encodeTrajectoryShard,
} from './codec.ts';
import { bump } from './counters.ts';
import type { PeerHost } from './host.ts';

export const blocksTopic = (team: string) => `sat/${team}/blocks`;
/** Shards fetched at once; further announcements wait their turn. */
export const MAX_FETCHES = 4;

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
  /** Announced log-prob updates are fetched too when given. */
  onUpdate?: (update: LogprobUpdate, cid: CID, from: PeerId) => void;
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
  /** CIDs being fetched or queued, so each is fetched once. */
  private readonly pending = new Set<string>();
  private readonly queue: (() => void)[] = [];
  private active = 0;

  constructor(private readonly host: PeerHost, private readonly init: ShardExchangeInit) {}

  start(): void {
    const { team, slots } = this.init;
    this.host.subscribe(blocksTopic(team), (b) => decodeAnnounce(b, { team, slots, ...(this.init.stage ? { stage: this.init.stage() } : {}) }), (a, from) => {
      if (this.init.isMember && !this.init.isMember(from)) this.counters.nonMember++;
      else if (a.kind === BlockKind.SHARD ? this.init.wants?.(a) ?? true : this.init.onUpdate !== undefined) this.enqueue(a, from);
    });
  }

  stop(): void {
    this.host.unsubscribe(blocksTopic(this.init.team));
    this.queue.length = 0;
  }

  /** Keeps `shard` for others to fetch and announces it; its CID. */
  async publish(shard: TrajectoryShard): Promise<CID> {
    const turns = Math.min(...shard.trajectories.map((t) => t.turns.length));
    return this.announce(encodeTrajectoryShard(shard), { stage: shard.stage, kind: BlockKind.SHARD, turns, rollout: shard.rollout });
  }

  /** Keeps `update` for others to fetch and announces it; its CID. */
  async publishUpdate(update: LogprobUpdate): Promise<CID> {
    return this.announce(encodeLogprobUpdate(update), { stage: update.stage, kind: BlockKind.UPDATE, turns: 0, rollout: '' });
  }

  private async announce(bytes: Uint8Array, what: Pick<Announce, 'stage' | 'kind' | 'turns' | 'rollout'>): Promise<CID> {
    const cid = this.host.blocks.store.put(bytes);
    await this.host.publish(blocksTopic(this.init.team), encodeAnnounce({ version: PROTOCOL_VERSION, team: this.init.team, cid: cid.bytes, size: bytes.length, ...what }));
    this.counters.published++;
    return cid;
  }

  /** Fetches each announced CID once, MAX_FETCHES at a time. */
  private enqueue(a: Announce, from: PeerId): void {
    const cid = cidFromBytes(a.cid!)!; // the codec checked it is one
    const key = cid.toString();
    if (this.pending.has(key) || this.host.blocks.store.has(cid)) return;
    this.pending.add(key);
    const run = () => {
      this.active++;
      void this.fetch(a, cid, from).finally(() => {
        this.active--;
        this.pending.delete(key);
        this.queue.shift()?.();
      });
    };
    if (this.active < MAX_FETCHES) run();
    else this.queue.push(run);
  }

  private async fetch(a: Announce, cid: CID, from: PeerId): Promise<void> {
    const shard = a.kind === BlockKind.SHARD;
    let bytes: Uint8Array;
    try {
      // No more than the announcement said, and never more than its kind may be.
      bytes = await this.host.blocks.fetch(from, cid, { maxBytes: Math.min(a.size, shard ? MAX_BYTES.TrajectoryShard : MAX_BYTES.LogprobUpdate), keep: false });
    } catch {
      this.counters.fetchFailed++;
      return;
    }
    const ctx = { team: this.init.team, slots: this.init.slots, stage: a.stage };
    const d = shard ? decodeTrajectoryShard(bytes, ctx) : decodeLogprobUpdate(bytes, ctx);
    if (!d.ok || d.message.stage !== a.stage) {
      bump(this.counters.invalidFrom, from.toString());
      return;
    }
    this.host.blocks.store.put(bytes); // kept, and served on, only once valid
    this.counters.received++;
    try {
      if ('trajectories' in d.message) this.init.onShard(d.message, cid, from);
      else this.init.onUpdate?.(d.message, cid, from);
    } catch {
      // the handler's failure is its own; the exchange goes on
    }
  }
}
