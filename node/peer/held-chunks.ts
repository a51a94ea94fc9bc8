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
  /** Forgets the bytes of a part let go undecided (a refused maker's no peer spoke of). */
  forget?: (h: HeldPart) => void;
  /** A chunk's part does not hold up, as `by` says (`why`): its maker is excluded. */
  refuse: (h: HeldPart, by: PeerId, why: string) => void;
  log?: (line: string) => void;
}

/** The slot whose turn a chunk carries: that of its trajectories' last turn. */
export const slotOf = (part: TrajectoryShard): number => part.trajectories[0].turns.at(-1)!.slot;

/** A part held, with the peers that said they cannot check it and the timer that takes it unchecked. */
type Held = HeldPart & { timer: NodeJS.Timeout; abstained: Set<string> };

export class HeldChunks {
  private readonly held = new Map<string, Held>();
  /** Parts decided here, by CID: a word that comes later is logged when it says otherwise. */
  private readonly decided = new Map<string, { stage: number; holds: boolean }>();
  /** The makers of chunks refused here: a chunk of theirs counts only on a peer's word, and they make none. */
  readonly refusedMakers = new Set<string>();
  /** The chunks made here, by CID, and whether this peer said yet that another peer's copy of one holds up. */
  private readonly made = new Map<string, { stage: number; slot: number; said: boolean }>();

  constructor(private readonly init: HeldChunksInit) {
    init.attestations.listen((s) => this.heard(s));
  }

  /** Holds `part` from `maker` until its verifier's word (one already here decides it at once). */
  hold(part: TrajectoryShard, cid: CID, maker: PeerId): void {
    const key = cid.toString();
    if (this.held.has(key) || this.decided.has(key)) return; // the same bytes from another maker are decided alike
    const timer = setTimeout(() => {
      const h = this.held.get(key);
      if (!h) return;
      this.held.delete(key);
      // A refused maker's chunk counts only on a peer's word: its bytes go, to be fetched again should another peer
      // of the slot announce the same (docs/design §4.17).
      if (this.refusedMakers.has(maker.toString())) return this.init.forget?.(h);
      this.init.log?.(
        `chunk ${part.chunk} of slot ${slotOf(part)}'s turn in stage ${part.stage}'s ${part.rollout} is taken ` +
          `unchecked: no other peer of its slot spoke of it in ${Math.round(this.init.waitMs / 1000)} s`,
      );
      this.settle(key, h, true);
    }, this.init.waitMs);
    timer.unref();
    this.held.set(key, { part, cid, maker, since: Date.now(), timer, abstained: new Set() });
    for (const s of this.init.attestations.of(key)) this.heard(s);
    this.takeUncheckable();
  }

  /** Notes a chunk's part made here: see madeToo. */
  madeHere(part: TrajectoryShard, cid: CID): void {
    this.made.set(cid.toString(), { stage: part.stage, slot: slotOf(part), said: false });
  }

  /**
   * `from`, a peer of the slot's line, announced a part made here, byte for byte (docs/design §4.17): the two made the
   * same rows in one batch. Neither fetches the other's copy to check it, so each says at once that it holds up (its own
   * sampler gave those bytes); a peer that took the other's copy first hears it from one that is not that copy's maker.
   */
  madeToo(cid: CID, from: PeerId): void {
    const m = this.made.get(cid.toString());
    if (!m || m.said || !this.init.claims(m.slot, from, m.stage)) return;
    m.said = true;
    void this.init.attestations.attest({
      stage: m.stage,
      position: 0,
      slot: m.slot,
      update: cid.bytes,
      holds: true,
      why: '',
      abstains: false,
    });
  }

  /**
   * Takes at once the parts no peer can check: their slot's line has none but their maker, refused makers and peers
   * that said they cannot (a replica out of step). A refused maker's are checked all the same (another peer may have
   * found some of them good).
   */
  private takeUncheckable(): void {
    for (const [key, h] of this.held) {
      if (this.refusedMakers.has(h.maker.toString())) continue;
      const checkers = this.init
        .line(slotOf(h.part), h.part.stage)
        .map(String)
        .filter((p) => p !== h.maker.toString() && !this.refusedMakers.has(p) && !h.abstained.has(p));
      if (!checkers.length) this.settle(key, h, true);
    }
  }

  /** Decides a held part: taken (it holds up, or cannot be checked) or dropped. */
  private settle(key: string, h: Held, take: boolean): void {
    clearTimeout(h.timer);
    this.held.delete(key);
    this.decided.set(key, { stage: h.part.stage, holds: take });
    if (take) this.init.take(h);
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
    for (const [key, d] of this.decided) if (d.stage < stage) this.decided.delete(key);
    for (const [key, m] of this.made) if (m.stage < stage) this.made.delete(key);
  }

  /**
   * A word on a held part counts when its signer claims the chunk's slot, did not make it and made no chunk that was
   * refused. A signer that abstains (out of step with its slot's trainer) only stops being waited for.
   */
  private heard(s: Signed): void {
    const key = cidFromBytes(s.attestation.update!)?.toString();
    if (!key) return;
    const h = this.held.get(key);
    const late = this.decided.get(key);
    if (late && !s.attestation.abstains && late.holds !== s.attestation.holds)
      this.init.log?.(
        `a word on a chunk of stage ${late.stage} came after this peer decided it otherwise (${shortId(s.signer.toString())}: ` +
          `${s.attestation.holds ? 'it holds up' : s.attestation.why}): the peers may disagree on the stage`,
      );
    if (
      !h ||
      s.signer.equals(h.maker) ||
      this.refusedMakers.has(s.signer.toString()) ||
      !this.init.claims(slotOf(h.part), s.signer, h.part.stage)
    )
      return;
    if (s.attestation.abstains) {
      h.abstained.add(s.signer.toString());
      return this.takeUncheckable();
    }
    this.settle(key, h, s.attestation.holds);
    if (s.attestation.holds) return;
    if (this.refusedMakers.has(h.maker.toString())) return;
    this.refusedMakers.add(h.maker.toString());
    this.init.refuse(h, s.signer, `${shortId(s.signer.toString())}: ${s.attestation.why}`);
    this.takeUncheckable();
  }
}
