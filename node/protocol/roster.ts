// The team's roster (docs/design §4.6): who holds each slot, as every peer computes it alike from the
// gossiped slot claims and heartbeats. A claim is live while its peer heartbeats within the liveness
// window; a slot's holder is, among its live claims, the one with the earliest claim time (the peer
// id breaks ties) — so an incumbent keeps its slot against later claimants, two simultaneous claims
// resolve the same way on every peer, and when the holder falls silent the next claimant takes over.
// An upgrade claim (a stronger model for the slot), when the manifest allows upgrades, names the
// stage it starts at: from that stage boundary on it outranks the plain claims (the earliest such
// stage first, then time, then peer id). One first heard while the slot's live holder already says it
// is in that stage (or later) is late — it would move the slot mid-stage — and is dropped.
// A peer holds at most one slot (a new claim withdraws its others). Claims from peers the team's
// allowlist does not admit, for another tokenizer than the slot's, or dated ahead of this peer's
// clock, and heartbeats of peers that hold no slot, are dropped and counted. A peer keeps its claim's
// time in its data dir, so after a restart it re-announces the same claim and keeps its seniority on
// every peer, those that joined meanwhile included. A peer excluded from the team (docs/design §4.15)
// holds no slot from the stage it is excluded from on. Known limit: a claim dated far in the past wins
// seniority only on a peer that first hears it within its first liveness window: one heard later, dated before the
// slot's live holder's, ranks behind the claims heard before it, and a peer's claim keeps the time it was first heard
// with.
import fs from 'node:fs';
import path from 'node:path';
import type { PeerId } from '@libp2p/interface';
import { writeFileAtomic } from '../util/atomic-file.ts';
import {
  Admission,
  type Heartbeat,
  PROTOCOL_VERSION,
  type SlotClaim,
  type TeamManifest,
  decodeHeartbeat,
  decodeSlotClaim,
  encodeHeartbeat,
  encodeSlotClaim,
} from './codec.ts';
import { bump } from './counters.ts';
import { ClaimError } from './errors.ts';
import type { PeerHost } from './host.ts';

export const claimsTopic = (team: string) => `sat/${team}/claims`;
export const heartbeatsTopic = (team: string) => `sat/${team}/heartbeats`;
/** A claim whose peer has not been heard from for this long no longer holds its slot. */
export const LIVENESS_MS = 15_000;
/** The file in a peer's data dir that keeps its claim times. */
export const CLAIM_FILE = 'claims.json';
/** How often a member heartbeats (and re-announces its claim for peers that joined since). */
export const HEARTBEAT_MS = 3_000;
/** Claims dated further ahead of this peer's clock are dropped. */
const CLOCK_SKEW_MS = 60_000;
/** A claim silent for this many liveness windows is forgotten. */
const FORGET_AFTER = 20;

export interface RosterInit {
  team: string;
  manifest: TeamManifest;
  /** Where this peer keeps the time of its claim, so a restart re-announces the same claim (the peer's data dir). */
  dataDir?: string;
  livenessMs?: number;
  heartbeatMs?: number;
  /** What this peer's heartbeats say, as they go out (the sim's adversaries change it; an honest peer sends them as made). */
  said?: (beat: Heartbeat) => Heartbeat;
  /** What this peer's claim says, as it goes out (likewise). */
  claimed?: (claim: SlotClaim) => SlotClaim;
  /** Hears the digest of a stage another peer's heartbeat carries (docs/design §4.15). */
  onDigest?: (peer: PeerId, stage: number, digest: Uint8Array) => void;
}

export interface RosterCounters {
  claims: number;
  heartbeats: number;
  /** Claims ranked behind as backdated, or re-dated earlier than first heard (kept, their seniority not taken). */
  backdated: number;
  /**
   * Dropped, by why: 'not-admitted', 'tokenizer', 'future', 'no-upgrades', 'late', 'non-member'.
   */
  dropped: Map<string, number>;
}

interface Known {
  claim: SlotClaim;
  /** First heard after this peer listened a liveness window, dated before the slot's live holder's. */
  backdated?: true;
  peer: PeerId;
  lastSeen: number /** The stage its last heartbeat said it is in. */;
  stage?: number;
}

const equalBytes = (a?: Uint8Array, b?: Uint8Array) =>
  (a ?? new Uint8Array()).length === (b ?? new Uint8Array()).length && (a ?? []).every((x, i) => x === b![i]);

export class Roster {
  readonly counters: RosterCounters = { claims: 0, heartbeats: 0, backdated: 0, dropped: new Map() };
  /** Every claim seen, by slot and then by claimant. */
  private readonly claims = new Map<number, Map<string, Known>>();
  private mine?: SlotClaim;
  /** Peers excluded from the team for what they sent: why, and the first stage they hold no slot in. */
  private readonly excluded = new Map<string, { why: string; from: number }>();
  private current = 0;
  private startedAt = Date.now();
  /** The last stage this peer logged and its digest, carried by its heartbeats. */
  private digest: { stage: number; bytes: Uint8Array<ArrayBuffer> } = { stage: 0, bytes: new Uint8Array() };
  private timer?: NodeJS.Timeout;
  private readonly liveness: number;
  /** How often this peer heartbeats: a round in which every live peer is heard. */
  readonly heartbeatMs: number;

  constructor(
    private readonly host: PeerHost,
    private readonly init: RosterInit,
  ) {
    this.liveness = init.livenessMs ?? LIVENESS_MS;
    this.heartbeatMs = init.heartbeatMs ?? HEARTBEAT_MS;
  }

  start(): void {
    const { team, manifest } = this.init;
    const ctx = { team, slots: manifest.slots.length };
    this.host.subscribe(
      claimsTopic(team),
      (b) => decodeSlotClaim(b, ctx),
      (claim, from) => this.onClaim(claim, from),
    );
    this.host.subscribe(
      heartbeatsTopic(team),
      (b) => decodeHeartbeat(b, ctx),
      (beat, from) => {
        if (this.onHeartbeat(from, beat.slot, beat.stage) && beat.digestStage)
          this.init.onDigest?.(from, beat.digestStage, beat.digest);
      },
    );
    this.startedAt = Date.now();
    this.timer = setInterval(() => void this.announce(), this.heartbeatMs);
  }

  /**
   * Claims `slot` for this peer and announces it (again every heartbeat); with `upgradeFrom`, as a
   * stronger model taking the slot over from that stage on.
   */
  async claim(slot: number, family: string, tokenizer: Uint8Array<ArrayBuffer>, upgradeFrom?: number): Promise<void> {
    const upgrade = upgradeFrom !== undefined;
    const mine: SlotClaim = {
      version: PROTOCOL_VERSION,
      team: this.init.team,
      slot,
      family,
      tokenizer,
      upgrade,
      from: upgradeFrom ?? this.stage,
      time: this.claimTime(slot, upgrade),
    };
    encodeSlotClaim(mine); // a bad claim fails here, once, not on every heartbeat
    const { manifest } = this.init;
    if (upgrade && !manifest.upgrades)
      throw new ClaimError(`the team's manifest does not allow upgrades: slot ${slot} can only be claimed when free`);
    if (!equalBytes(tokenizer, manifest.slots[slot]?.tokenizer))
      throw new ClaimError(`slot ${slot} needs the tokenizer the manifest names: this model has another one`);
    this.mine = mine;
    this.record(mine, this.host.peerId);
    await this.announce();
  }

  /** The time of this peer's claim on `slot`: the one it made before a restart, else now (then kept). */
  private claimTime(slot: number, upgrade: boolean): number {
    if (!this.init.dataDir) return Date.now();
    const file = path.join(this.init.dataDir, CLAIM_FILE);
    const key = `${this.init.team}/${slot}/${upgrade ? 'upgrade' : 'claim'}`;
    let saved: Record<string, number> = {};
    try {
      saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>;
    } catch {
      // none yet, or unreadable: this claim starts anew
    }
    const time = Number.isInteger(saved[key]) && saved[key] <= Date.now() ? saved[key] : Date.now();
    if (saved[key] !== time) writeFileAtomic(file, `${JSON.stringify({ ...saved, [key]: time })}\n`);
    return time;
  }

  /** The stage this peer is in (carried by its heartbeats; one goes out at once). */
  setStage(stage: number): void {
    if (stage === this.current) return;
    this.current = stage;
    void this.announce();
  }

  /** The digest of `stage`, the last one this peer logged: its heartbeats carry it from now on. */
  setDigest(stage: number, bytes: Uint8Array<ArrayBuffer>): void {
    this.digest = { stage, bytes };
  }

  get stage(): number {
    return this.current;
  }

  /** The peer holding `slot` at `stage` (default: this peer's), by the rule every peer applies. */
  holder(slot: number, stage = this.current): PeerId | undefined {
    return this.line(slot, stage)[0];
  }

  /**
   * The live peers of `slot` at `stage` (default: this peer's) in rank order (docs/design §4.6): its holder, the
   * slot's trainer, first, then its replicas, each next in line after the one before.
   */
  line(slot: number, stage = this.current): PeerId[] {
    const now = Date.now();
    const rank = (k: Known): [number, number, number, string] =>
      k.claim.upgrade && k.claim.from <= stage
        ? [0, k.claim.from, k.claim.time, k.peer.toString()]
        : [1, k.backdated ? 1 : 0, k.claim.time, k.peer.toString()];
    const order = (x: Known, y: Known) => {
      const [a, b] = [rank(x), rank(y)];
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
      return 0;
    };
    const live: Known[] = [];
    const bySlot = this.claims.get(slot);
    for (const [id, k] of bySlot ?? []) {
      if (now - k.lastSeen > FORGET_AFTER * this.liveness) bySlot!.delete(id); // long gone: forgotten
      if (now - k.lastSeen > this.liveness || (k.claim.upgrade && k.claim.from > stage)) continue;
      if (this.isExcluded(id, stage)) continue;
      live.push(k);
    }
    return live.sort(order).map((k) => k.peer);
  }

  /**
   * Excludes `peer` from the team from stage `from` on (`why`: what it sent that did not hold up): its claims count
   * for no later stage, so its slot goes to the next claimant. Every honest peer refuses the same data, so each
   * excludes alike. The stage it is in goes on with what of its work holds up. False when it was excluded already.
   */
  exclude(peer: PeerId, why: string, from: number): boolean {
    const id = peer.toString();
    if (this.excluded.has(id)) return false;
    this.excluded.set(id, { why, from });
    return true;
  }

  /** The peers excluded so far: why, and from which stage. */
  exclusions(): { peer: string; why: string; from: number }[] {
    return [...this.excluded].map(([peer, e]) => ({ peer, ...e }));
  }

  /** Whether `peer` is excluded at `stage`. */
  isExcluded(peer: string, stage: number): boolean {
    const e = this.excluded.get(peer);
    return e !== undefined && stage >= e.from;
  }

  /** The stage `peer`'s last heartbeat on `slot` said it is in (undefined before its first). */
  stageOf(slot: number, peer: PeerId): number | undefined {
    return this.claims.get(slot)?.get(peer.toString())?.stage;
  }

  /** What is known of `peer`'s claim on `slot`: its time, when the peer was last heard, its stage then. */
  heard(slot: number, peer: PeerId): { claimTime: number; lastSeen: number; stage?: number } | undefined {
    const k = this.claims.get(slot)?.get(peer.toString());
    return k && { claimTime: k.claim.time, lastSeen: k.lastSeen, ...(k.stage !== undefined ? { stage: k.stage } : {}) };
  }

  /** The stage `peer` claims `slot` from with an upgrade claim (docs/design §4.12); undefined for a plain claim. */
  upgradeFrom(slot: number, peer: PeerId): number | undefined {
    const claim = this.claims.get(slot)?.get(peer.toString())?.claim;
    return claim?.upgrade ? claim.from : undefined;
  }

  /** Every peer with a claim on `slot` (live or not; at `stage`, those not excluded by then). */
  claimants(slot: number, stage?: number): PeerId[] {
    const known = [...(this.claims.get(slot)?.values() ?? [])];
    return known.filter((k) => stage === undefined || !this.isExcluded(k.peer.toString(), stage)).map((k) => k.peer);
  }

  /** The holder of every slot (undefined where none is live). */
  holders(): (PeerId | undefined)[] {
    return this.init.manifest.slots.map((_, slot) => this.holder(slot));
  }

  stop(): void {
    clearInterval(this.timer);
    this.host.unsubscribe(claimsTopic(this.init.team));
    this.host.unsubscribe(heartbeatsTopic(this.init.team));
  }

  private async announce(): Promise<void> {
    if (!this.mine) return;
    const { team } = this.init;
    this.record(this.mine, this.host.peerId);
    await this.host
      .publish(claimsTopic(team), encodeSlotClaim(this.init.claimed?.(this.mine) ?? this.mine))
      .catch(() => 0);
    const beat: Heartbeat = {
      version: PROTOCOL_VERSION,
      team,
      slot: this.mine.slot,
      stage: this.stage,
      model: this.mine.family,
      time: Date.now(),
      // A digest of a stage past the one it says it is in (a peer restarting from its data dir) waits for that stage.
      ...(this.digest.stage <= this.stage
        ? { digestStage: this.digest.stage, digest: this.digest.bytes }
        : { digestStage: 0, digest: new Uint8Array() }),
    };
    await this.host.publish(heartbeatsTopic(team), encodeHeartbeat(this.init.said?.(beat) ?? beat)).catch(() => 0);
  }

  private onClaim(claim: SlotClaim, from: PeerId): void {
    const { manifest } = this.init;
    if (
      manifest.admission === Admission.ALLOWLIST &&
      !manifest.allow.some((p) => equalBytes(p, from.toMultihash().bytes))
    )
      return this.drop('not-admitted');
    if (!equalBytes(claim.tokenizer, manifest.slots[claim.slot].tokenizer)) return this.drop('tokenizer');
    if (claim.time > Date.now() + CLOCK_SKEW_MS) return this.drop('future');
    if (claim.upgrade && !manifest.upgrades) return this.drop('no-upgrades');
    if (claim.upgrade && this.late(claim, from)) return this.drop('late');
    this.counters.claims++;
    this.record(claim, from);
  }

  /** Whether `claim`, an upgrade not heard before, names a stage its slot's live holder is already in. */
  private late(claim: SlotClaim, from: PeerId): boolean {
    const known = this.claims.get(claim.slot)?.get(from.toString());
    if (known?.claim.upgrade && known.claim.from === claim.from) return false;
    const holder = this.holder(claim.slot, claim.from);
    const stage = holder && !holder.equals(from) ? this.stageOf(claim.slot, holder) : undefined;
    return stage !== undefined && stage >= claim.from;
  }

  /** Whether the heartbeat came from a claimant of `slot` (and counts). */
  private onHeartbeat(from: PeerId, slot: number, stage: number): boolean {
    const known = this.claims.get(slot)?.get(from.toString());
    if (!known) {
      this.drop('non-member');
      return false;
    }
    this.counters.heartbeats++;
    known.lastSeen = Date.now();
    known.stage = stage;
    return true;
  }

  private record(claim: SlotClaim, peer: PeerId): void {
    const id = peer.toString();
    // One slot per peer: a claim on another slot withdraws its earlier ones.
    for (const [slot, bySlot] of this.claims) if (slot !== claim.slot) bySlot.delete(id);
    const bySlot = this.claims.get(claim.slot) ?? new Map<string, Known>();
    this.claims.set(claim.slot, bySlot);
    const prev = bySlot.get(id);
    // Another peer's claim first heard once this peer has listened a liveness window (it has heard every live claim),
    // dated before the slot's live holder's, is backdated: it ranks behind the claims heard before it (§4.6).
    const late = Date.now() - this.startedAt >= this.liveness && !peer.equals(this.host.peerId);
    const holder = prev || claim.upgrade || !late ? undefined : this.line(claim.slot)[0];
    const backdated =
      prev?.backdated ||
      (holder !== undefined && !holder.equals(peer) && claim.time < bySlot.get(holder.toString())!.claim.time);
    if (backdated && !prev) this.counters.backdated++;
    if (prev && claim.time < prev.claim.time) this.counters.backdated++;
    // A peer's first claim time stands: re-announcing does not lose (or win) it seniority.
    bySlot.set(id, {
      claim: prev && prev.claim.time <= claim.time ? prev.claim : prev ? { ...claim, time: prev.claim.time } : claim,
      ...(backdated ? { backdated: true } : {}),
      peer,
      lastSeen: Date.now(),
      ...(prev?.stage !== undefined ? { stage: prev.stage } : {}),
    });
  }

  private drop(why: string): void {
    bump(this.counters.dropped, why);
  }
}
