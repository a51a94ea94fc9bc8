// Trajectory shards between the peers of a team (docs/design §4.8): the producer keeps a shard in its
// block store and gossips a small signed Announce (stage, CID, how many turns it holds, its size);
// a peer that wants it — every learner wants the stage's complete shards, and in the chain workflow
// the peer of the next turn wants the partial ones its turn continues — fetches the bytes from the
// announcer over /sat/blocks/1, checks them against the CID and validates the shard before use. An
// announcer whose bytes are no valid shard is counted. Log-prob updates travel the same way (their
// announcements say UPDATE), so a peer that was not handed the token learns each update too; and an
// agent's trained tensors (PARAMS), which an incumbent hands to the newcomer taking its slot over.
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { cidFromBytes } from './cid.ts';
import { nextRepeat } from './repeats.ts';
import {
  type Announce,
  BlockKind,
  LIMITS,
  type LogprobUpdate,
  MAX_BYTES,
  PROTOCOL_VERSION,
  type TrajectoryShard,
  decodeAnnounce,
  decodeLogprobUpdate,
  decodeTrajectoryShard,
  encodeAnnounce,
  encodeLogprobUpdate,
  encodeTrajectoryShard,
} from './codec.ts';
import { bump } from './counters.ts';
import type { PeerHost } from './host.ts';

export const blocksTopic = (team: string) => `sat/${team}/blocks`;
/** Shards fetched at once; further announcements wait their turn. */
export const MAX_FETCHES = 4;
/**
 * Announcements kept to be repeated (gossip may lose one: a peer whose connection was cut for a moment); a large
 * rollout's shards are many.
 */
const MAX_KEPT = 256;
/**
 * The shortest and the longest wait before an announcement is repeated (a restarted peer listens 15 s for a stage's
 * rollout: catch-up.ts).
 */
const REPEAT_MIN_MS = 2_000;
const REPEAT_MAX_MS = 8_000;

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
  /**
   * A shard announced by `from` that is here already, made here or fetched: `from` made those bytes too (a shared
   * turn's chunk two peers made alike, docs/design §4.17), or announces its own again.
   */
  onShardAgain?: (cid: CID, from: PeerId) => void;
  /** Announced log-prob updates are fetched too when given. */
  onUpdate?: (update: LogprobUpdate, cid: CID, from: PeerId) => void;
  /**
   * Announced parameters are fetched when this says they are wanted (their bytes are checked against the CID only:
   * the caller validates them).
   */
  wantsParams?: (announce: Announce, from: PeerId) => boolean;
  onParams?: (bytes: Uint8Array, announce: Announce, from: PeerId) => void;
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
  readonly counters: ShardCounters = {
    published: 0,
    received: 0,
    fetchFailed: 0,
    invalidFrom: new Map(),
    nonMember: 0,
  };
  /** CIDs being fetched or queued, so each is fetched once. */
  private readonly pending = new Set<string>();
  private readonly queue: (() => void)[] = [];
  private active = 0;
  /** This peer's recent announcements, encoded, with their stage. */
  private readonly kept: { stage: number; shard: boolean; bytes: Uint8Array; since: number; next: number }[] = [];
  /** The stage of each block this exchange put in the store (made here or fetched). */
  private readonly stages = new Map<string, { cid: CID; stage: number }>();

  constructor(
    private readonly host: PeerHost,
    private readonly init: ShardExchangeInit,
  ) {}

  start(): void {
    const { team, slots } = this.init;
    this.host.subscribe(
      blocksTopic(team),
      (b) => decodeAnnounce(b, { team, slots, ...(this.init.stage ? { stage: this.init.stage() } : {}) }),
      (a, from) => {
        const cid = cidFromBytes(a.cid!)!; // the codec checked it is one
        if (this.init.isMember && !this.init.isMember(from)) this.counters.nonMember++;
        else if (a.kind === BlockKind.SHARD && this.host.blocks.store.has(cid)) this.init.onShardAgain?.(cid, from);
        else if (this.wanted(a, from)) this.enqueue(a, from);
      },
    );
  }

  stop(): void {
    this.host.unsubscribe(blocksTopic(this.init.team));
    this.queue.length = 0;
  }

  /** Keeps `shard` for others to fetch (`kept` hears its CID first) and announces it; its CID. */
  async publish(shard: TrajectoryShard, kept?: (cid: CID) => void): Promise<CID> {
    const turns = Math.min(...shard.trajectories.map((t) => t.turns.length));
    return this.announce(
      encodeTrajectoryShard(shard),
      { stage: shard.stage, kind: BlockKind.SHARD, turns, rollout: shard.rollout },
      kept,
    );
  }

  /**
   * Fetches a shard or update of `stage` named by CID in another block (an update lists its shards and
   * the updates before it) from `from`, which holds it; handled like an announced one.
   */
  fetchNamed(from: PeerId, cid: CID, stage: number, kind: BlockKind.SHARD | BlockKind.UPDATE): void {
    const size = kind === BlockKind.SHARD ? MAX_BYTES.TrajectoryShard : MAX_BYTES.LogprobUpdate;
    this.enqueue(
      { version: PROTOCOL_VERSION, team: this.init.team, stage, kind, cid: cid.bytes, turns: 0, size, rollout: '' },
      from,
    );
  }

  private wanted(a: Announce, from: PeerId): boolean {
    if (a.kind === BlockKind.SHARD) return this.init.wants?.(a) ?? true;
    if (a.kind === BlockKind.UPDATE) return this.init.onUpdate !== undefined;
    return this.init.wantsParams?.(a, from) ?? false;
  }

  /**
   * Keeps an agent's tensors (safetensors bytes) for the newcomer taking its slot over from `stage`, and announces
   * them; their CID.
   */
  async publishParams(stage: number, bytes: Uint8Array): Promise<CID> {
    return this.announce(bytes, { stage, kind: BlockKind.PARAMS, turns: 0, rollout: '' });
  }

  /** Keeps `update` for others to fetch and announces it; its CID. */
  async publishUpdate(update: LogprobUpdate): Promise<CID> {
    return this.announce(encodeLogprobUpdate(update), {
      stage: update.stage,
      kind: BlockKind.UPDATE,
      turns: 0,
      rollout: '',
    });
  }

  /** Keeps `bytes` (`kept` hears their CID at once, before another peer's announcement of them can come) and announces them. */
  private async announce(
    bytes: Uint8Array,
    what: Pick<Announce, 'stage' | 'kind' | 'turns' | 'rollout'>,
    kept?: (cid: CID) => void,
  ): Promise<CID> {
    const cid = this.keep(bytes, what.stage);
    kept?.(cid);
    const announce = encodeAnnounce({
      version: PROTOCOL_VERSION,
      team: this.init.team,
      cid: cid.bytes,
      size: bytes.length,
      ...what,
    });
    await this.host.publish(blocksTopic(this.init.team), announce);
    const now = Date.now();
    this.kept.push({ stage: what.stage, shard: what.kind === BlockKind.SHARD, bytes: announce, since: now, next: now });
    if (this.kept.length > MAX_KEPT) this.kept.shift();
    this.counters.published++;
    return cid;
  }

  /**
   * Gossips again this peer's announcements of `stage` and the stage before (a receiver fetches each CID once, so a
   * repeat costs a small message): what a peer missed while its connection was down reaches it. Each is repeated at
   * twice its age (2, 4, 8 s after it was made), then every 8 s, so a stage's many shards cost fewer repeats each; a
   * past stage's shards at twice their age again (a peer following a past stage fetches the shards its updates name).
   */
  async repeat(stage: number): Promise<void> {
    const now = Date.now();
    for (const k of this.kept) {
      if (k.stage < stage - 1 || now < k.next) continue;
      k.next = nextRepeat(k.since, now, REPEAT_MIN_MS, k.stage < stage && k.shard ? Infinity : REPEAT_MAX_MS);
      await this.host.publish(blocksTopic(this.init.team), k.bytes).catch(() => 0);
    }
  }

  /**
   * Forgets the blocks of stages before `stage` (this peer's and those it fetched), so a long run's
   * memory stays flat; peers catching up need the last stages only.
   */
  forgetBefore(stage: number): void {
    for (const [key, b] of this.stages) {
      if (b.stage >= stage) continue;
      this.host.blocks.store.delete(b.cid);
      this.stages.delete(key);
    }
  }

  private keep(bytes: Uint8Array, stage: number): CID {
    const cid = this.host.blocks.store.put(bytes);
    this.stages.set(cid.toString(), { cid, stage });
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
      const max = shard
        ? MAX_BYTES.TrajectoryShard
        : a.kind === BlockKind.UPDATE
          ? MAX_BYTES.LogprobUpdate
          : LIMITS.block;
      bytes = await this.host.blocks.fetch(from, cid, { maxBytes: Math.min(a.size, max), keep: false });
    } catch {
      this.counters.fetchFailed++;
      return;
    }
    if (a.kind === BlockKind.PARAMS) {
      this.counters.received++;
      return void this.handle(() => this.init.onParams?.(bytes, a, from));
    }
    const ctx = { team: this.init.team, slots: this.init.slots, stage: a.stage };
    const d = shard ? decodeTrajectoryShard(bytes, ctx) : decodeLogprobUpdate(bytes, ctx);
    if (!d.ok || d.message.stage !== a.stage) {
      bump(this.counters.invalidFrom, from.toString());
      return;
    }
    this.keep(bytes, a.stage); // kept, and served on, only once valid
    this.counters.received++;
    const m = d.message;
    this.handle(() => ('trajectories' in m ? this.init.onShard(m, cid, from) : this.init.onUpdate?.(m, cid, from)));
  }

  private handle(call: () => void): void {
    try {
      call();
    } catch {
      // the handler's failure is its own; the exchange goes on
    }
  }
}
