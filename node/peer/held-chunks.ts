// The chunks of shared turns as they arrive (docs/design §4.17), held until a peer of their slot's line other than
// their maker says whether they hold up: a chunk that does is taken, one that does not is dropped and its maker
// excluded, and one that no peer speaks of in time is taken unchecked, with a line.
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import type { Attestations, Signed } from '../protocol/attestations.ts';
import { cidFromBytes } from '../protocol/cid.ts';
import type { TrajectoryShard } from '../protocol/codec.ts';
import { shortId } from '../util/short-id.ts';

/** A part of a chunk held for its verifier's word: what it is, from whom, since when. */
export interface HeldPart {
  part: TrajectoryShard;
  cid: CID;
  maker: PeerId;
  since: number;
}

export interface HeldChunksInit {
  attestations: Attestations;
  /** Whether `peer` claims `slot` at `stage` (its trainer or a replica: they verify each other's chunks). */
  claims: (slot: number, peer: PeerId, stage: number) => boolean;
  /** `slot`'s line at `stage`: the peers that may check its chunks. */
  line: (slot: number, stage: number) => PeerId[];
  /** How long a chunk waits for a word before it is taken unchecked. */
  waitMs: number;
  /** Takes a chunk's part: it holds up, or was waited on long enough. */
  take: (h: HeldPart) => void;
  /** A chunk's part does not hold up, as `by` says (`why`): its maker is excluded. */
  refuse: (h: HeldPart, by: PeerId, why: string) => void;
  log?: (line: string) => void;
}

/** The slot whose turn a chunk carries: that of its trajectories' last turn. */
export const slotOf = (part: TrajectoryShard): number => part.trajectories[0].turns.at(-1)!.slot;

export class HeldChunks {
  private readonly held = new Map<string, HeldPart & { timer: NodeJS.Timeout }>();
  /** The makers of chunks refused here: a chunk of theirs counts only on a peer's word, and they make none. */
  readonly refusedMakers = new Set<string>();

  constructor(private readonly init: HeldChunksInit) {
    init.attestations.listen((s) => this.heard(s));
  }

  /** Holds `part` from `maker` until its verifier's word (one already here decides it at once). */
  hold(part: TrajectoryShard, cid: CID, maker: PeerId): void {
    const key = cid.toString();
    if (this.held.has(key)) return;
    const timer = setTimeout(() => {
      const h = this.held.get(key);
      if (!h) return;
      this.held.delete(key);
      if (this.refusedMakers.has(maker.toString())) return; // a refused maker's chunk counts only on a peer's word
      this.init.log?.(
        `chunk ${part.chunk} of slot ${slotOf(part)}'s turn in stage ${part.stage}'s ${part.rollout} is taken ` +
          `unchecked: no other peer of its slot spoke of it in ${Math.round(this.init.waitMs / 1000)} s`,
      );
      this.init.take(h);
    }, this.init.waitMs);
    timer.unref();
    this.held.set(key, { part, cid, maker, since: Date.now(), timer });
    for (const s of this.init.attestations.of(key)) this.heard(s);
    this.takeUncheckable();
  }

  /**
   * Takes at once the parts no peer can check: their slot's line has none but their maker and refused makers. A
   * refused maker's are checked all the same (another peer may have found some of them good).
   */
  private takeUncheckable(): void {
    for (const [key, h] of this.held) {
      if (this.refusedMakers.has(h.maker.toString())) continue;
      const checkers = this.init
        .line(slotOf(h.part), h.part.stage)
        .filter((p) => !p.equals(h.maker) && !this.refusedMakers.has(p.toString()));
      if (checkers.length) continue;
      clearTimeout(h.timer);
      this.held.delete(key);
      this.init.take(h);
    }
  }

  /** The parts held of `stage`'s `rollout` at `turns` turns, undecided yet. */
  of(stage: number, rollout: string, turns: number): HeldPart[] {
    return [...this.held.values()].filter(
      (h) => h.part.stage === stage && h.part.rollout === rollout && h.part.trajectories[0].turns.length === turns,
    );
  }

  /** Forgets what is held of stages before `stage`. */
  dropBefore(stage: number): void {
    for (const [key, h] of this.held)
      if (h.part.stage < stage) {
        clearTimeout(h.timer);
        this.held.delete(key);
      }
  }

  /** A word on a held part counts when its signer claims the chunk's slot and did not make it. */
  private heard(s: Signed): void {
    const key = cidFromBytes(s.attestation.update!)?.toString();
    const h = key ? this.held.get(key) : undefined;
    if (!h || s.signer.equals(h.maker) || !this.init.claims(slotOf(h.part), s.signer, h.part.stage)) return;
    this.held.delete(key!);
    clearTimeout(h.timer);
    if (s.attestation.holds) return this.init.take(h);
    if (this.refusedMakers.has(h.maker.toString())) return;
    this.refusedMakers.add(h.maker.toString());
    this.init.refuse(h, s.signer, `${shortId(s.signer.toString())}: ${s.attestation.why}`);
    this.takeUncheckable();
  }
}
