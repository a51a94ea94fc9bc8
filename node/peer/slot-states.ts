// The team's slot states (docs/design §4.14). Once it has logged a stage, a slot's peer offers the slot's saved
// state (trained and optimizer tensors, beta, Stage-0 incumbent, the stage's record and the stage log) as chunks, and
// gossips a SlotState naming its manifest on sat/<team>/states. Every other peer keeps a copy of the newest state of
// each slot — fetched in the background, pinned under state/<slot>, served and announced on — so a peer whose disk
// is gone, or another peer carrying the slot on, gets it back from whoever is still there (slot-recovery.ts).
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import type { SatConfig } from '../config/load.ts';
import { cidFromBytes } from '../protocol/cid.ts';
import { PROTOCOL_VERSION, type SlotState, decodeSlotState, encodeSlotState } from '../protocol/codec.ts';
import { bump } from '../protocol/counters.ts';
import type { PeerHost } from '../protocol/host.ts';
import { slotStateFiles } from '../sat/checkpoints.ts';
import type { PeerChunks } from './peer-chunks.ts';

export const statesTopic = (team: string) => `sat/${team}/states`;
/** How often a peer repeats the states it serves. */
const PERIOD_MS = 3_000;
/** Versions of a slot's state remembered at once (the newest). */
const VERSIONS = 8;

/** A version of a slot's state as heard: its stage, manifest and size, and the peers that announced it. */
export interface HeardState {
  stage: number;
  cid: CID;
  bytes: number;
  peers: PeerId[];
}

export interface SlotStatesInit {
  host: PeerHost;
  team: string;
  cfg: SatConfig;
  /** This peer's slot: its state is offered, the others' are copied. */
  slot: number;
  chunks: PeerChunks;
  /** Whether a peer is a member of the team (a state from anyone else is dropped). */
  isMember: (peer: PeerId) => boolean;
  /** The latest stage the team's peers say they are in: a state of a later one is dropped. */
  teamStage: () => number;
  log: (line: string) => void;
  periodMs?: number;
}

export interface SlotStatesCounters {
  heard: number;
  /** Dropped, by why: 'non-member', 'ahead' (of a stage the team is not in yet). */
  dropped: Map<string, number>;
  /** Copies of other slots' states kept. */
  copied: number;
}

/** The label a slot's state is pinned under in the chunk store. */
export const stateLabel = (slot: number) => `state/${slot}`;

export class SlotStates {
  readonly counters: SlotStatesCounters = { heard: 0, dropped: new Map(), copied: 0 };
  /** Versions heard, by slot and then by manifest CID, with the peers that announced each. */
  private readonly heard = new Map<number, Map<string, Omit<HeardState, 'peers'> & { from: Map<string, PeerId> }>>();
  /** What this peer serves and announces: its slot's state, and its copies of the others'. */
  private readonly mine = new Map<number, SlotState>();
  /** Copies being fetched, by slot. */
  private readonly copying = new Map<number, { stage: number; abort: AbortController; done: Promise<void> }>();
  /** Versions whose copy failed (each said once), by slot/CID. */
  private readonly failed = new Set<string>();
  private offering: Promise<void> = Promise.resolve();
  private offerQueued = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly init: SlotStatesInit) {}

  start(): void {
    const { host, team, cfg } = this.init;
    host.subscribe(
      statesTopic(team),
      (b) => decodeSlotState(b, { team, slots: cfg.sat.agents.length }),
      (m, from) => this.hear(m, from),
    );
    this.timer = setInterval(() => void this.repeat(), this.init.periodMs ?? PERIOD_MS);
    this.timer.unref();
  }

  /** Stops announcing and copying; resolves once the offer and the copies under way have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const { abort } of this.copying.values()) abort.abort();
    this.init.host.unsubscribe(statesTopic(this.init.team));
    await Promise.allSettled([this.offering, ...[...this.copying.values()].map((c) => c.done)]);
  }

  /**
   * Offers this peer's slot's state as last saved (after the stage logged): chunked, pinned, announced now and every
   * period. One offer runs at a time, and calls meanwhile make one more, of the state saved by then; one that fails
   * is logged, and the next stage's goes on.
   */
  offer(): Promise<void> {
    if (this.offerQueued) return this.offering;
    this.offerQueued = true;
    this.offering = this.offering
      .then(() => {
        this.offerQueued = false;
        return this.stopped ? undefined : this.offerNow();
      })
      .catch((err: Error) => {
        this.init.log(`slot ${this.init.slot}'s state could not be offered to the team: ${err.message}`);
      });
    return this.offering;
  }

  /** The versions of `slot`'s state heard from the team's peers (this one's included), newest first. */
  newest(slot: number): HeardState[] {
    return [...(this.heard.get(slot)?.values() ?? [])]
      .map(({ stage, cid, bytes, from }) => ({ stage, cid, bytes, peers: [...from.values()] }))
      .sort((a, b) => b.stage - a.stage);
  }

  private async offerNow(): Promise<void> {
    const { cfg, slot, chunks } = this.init;
    const saved = slotStateFiles(cfg, slot);
    if (!saved) return;
    const meta = new TextEncoder().encode(JSON.stringify({ tensors: saved.tensors }));
    const { cid, bytes } = await chunks.offer(saved.files, stateLabel(slot), meta);
    await this.serve({ slot, stage: saved.stage, cid, bytes });
  }

  /** Announces that this peer serves `slot`'s state of `stage` (manifest `cid`), now and every period. */
  private async serve({ slot, stage, cid, bytes }: { slot: number; stage: number; cid: CID; bytes: number }) {
    const m: SlotState = { version: PROTOCOL_VERSION, team: this.init.team, slot, stage, manifest: cid.bytes, bytes };
    this.mine.set(slot, m);
    this.remember(m, cid, this.init.host.peerId);
    await this.init.host.publish(statesTopic(this.init.team), encodeSlotState(m)).catch(() => 0);
  }

  private async repeat(): Promise<void> {
    for (const m of this.mine.values())
      await this.init.host.publish(statesTopic(this.init.team), encodeSlotState(m)).catch(() => 0);
  }

  private hear(m: SlotState, from: PeerId): void {
    if (!this.init.isMember(from)) return bump(this.counters.dropped, 'non-member');
    if (m.stage > this.init.teamStage()) return bump(this.counters.dropped, 'ahead');
    this.counters.heard++;
    this.remember(m, cidFromBytes(m.manifest!)!, from);
    if (m.slot !== this.init.slot) this.copy(m.slot);
  }

  private remember(m: SlotState, cid: CID, from: PeerId): void {
    const bySlot = this.heard.get(m.slot) ?? new Map();
    this.heard.set(m.slot, bySlot);
    const key = cid.toString();
    const known = bySlot.get(key) ?? { stage: m.stage, cid, bytes: m.bytes, from: new Map() };
    known.from.set(from.toString(), from);
    bySlot.set(key, known);
    if (bySlot.size > VERSIONS) {
      const oldest = [...bySlot.entries()].sort((a, b) => a[1].stage - b[1].stage)[0][0];
      bySlot.delete(oldest);
      this.failed.delete(`${m.slot}/${oldest}`);
    }
  }

  /**
   * Keeps a copy of the newest state heard of another slot, when it is newer than the copy kept or being fetched (of
   * versions equally new, one whose copy has not failed first).
   */
  private copy(slot: number): void {
    const kept = this.mine.get(slot)?.stage ?? 0;
    const inFlight = this.copying.get(slot);
    const key = (v: HeardState) => `${slot}/${v.cid}`;
    const [newest] = this.newest(slot)
      .filter((v) => v.stage > Math.max(kept, inFlight?.stage ?? 0))
      .sort((a, b) => b.stage - a.stage || Number(this.failed.has(key(a))) - Number(this.failed.has(key(b))));
    if (!newest || this.stopped) return;
    inFlight?.abort.abort();
    const abort = new AbortController();
    const done = this.init.chunks
      .fetch(newest.cid, newest.peers, { label: stateLabel(slot), bytes: newest.bytes, signal: abort.signal })
      .then(async () => {
        if (abort.signal.aborted) return;
        this.counters.copied++;
        await this.serve({ slot, ...newest });
      })
      .catch((err: Error) => {
        // Said once a version: a later announcement tries again.
        if (abort.signal.aborted || this.failed.has(key(newest))) return;
        this.failed.add(key(newest));
        this.init.log(`no copy kept of slot ${slot}'s state of stage ${newest.stage} yet: ${err.message}`);
      })
      .finally(() => {
        if (this.copying.get(slot)?.abort === abort) this.copying.delete(slot);
      });
    this.copying.set(slot, { stage: newest.stage, abort, done });
  }
}
