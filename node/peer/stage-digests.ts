// Stage digests (docs/design §4.15): a hash chain every peer computes alike from what the team agreed on —
// each stage's accepted updates in order and its complete training shards — so that peers can compare
// one 32-byte value a stage through their heartbeats. A peer that hears another digest for a stage it
// logged says so, once a peer and stage: the two disagree on what the stage included.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PeerId } from '@libp2p/interface';
import { bump } from '../protocol/counters.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';

/** The file in a peer's data dir that keeps its last digests, so a restart continues the chain. */
export const DIGEST_FILE = 'digests.json';
/** Digests kept, by stage. */
const KEPT = 16;

/** What a stage included, as CIDs: its accepted updates in order, its complete training shards in order. */
export interface StageContent {
  updates: Uint8Array[];
  shards: Uint8Array[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * digest_k = SHA-256(digest_{k-1} | k | the accepted updates' CIDs | the shards' CIDs), each list preceded by its
 * length and each CID by its own; digest_0 = SHA-256 of the team id.
 */
export function stageDigest(previous: Uint8Array, stage: number, content: StageContent): Uint8Array<ArrayBuffer> {
  const h = createHash('sha256').update(previous);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    h.update(b);
  };
  u32(stage);
  for (const list of [content.updates, content.shards]) {
    u32(list.length);
    for (const cid of list) {
      u32(cid.length);
      h.update(cid);
    }
  }
  return new Uint8Array(h.digest());
}

export class StageDigests {
  /** Digests by stage, hex. */
  private readonly mine = new Map<number, string>();
  /** What other peers' heartbeats said of each stage: by stage, peer id -> digest (hex). */
  private readonly heard = new Map<number, Map<string, string>>();
  /** The (peer, stage) pairs already reported as disagreeing, with their stage. */
  private readonly reported = new Map<string, number>();
  /** Heartbeats whose digest differed from this peer's, by sender. */
  readonly mismatchFrom = new Map<string, number>();

  /**
   * `stage`: the stage this peer is in; digests heard of stages more than one ahead of it, or more than KEPT behind,
   * are ignored (a peer's heartbeats cannot fill or flush what this peer keeps).
   */
  constructor(
    private readonly dir: string,
    private readonly team: string,
    private readonly log: (line: string) => void,
    private readonly stage: () => number = () => Number.MAX_SAFE_INTEGER,
  ) {
    try {
      const saved = JSON.parse(fs.readFileSync(path.join(dir, DIGEST_FILE), 'utf8')) as Record<string, string>;
      for (const [stage, d] of Object.entries(saved)) if (/^[0-9a-f]{64}$/.test(d)) this.mine.set(Number(stage), d);
    } catch {
      // none yet, or unreadable: the chain starts from what the team says (see previous)
    }
  }

  /** `stage`'s digest from what it included (kept, and saved); undefined when the chain before it is not known here. */
  add(stage: number, content: StageContent): Uint8Array<ArrayBuffer> | undefined {
    const previous = this.previous(stage);
    if (!previous) return undefined;
    const digest = stageDigest(previous, stage, content);
    this.keep(stage, digest);
    for (const [peer, d] of this.heard.get(stage) ?? []) this.compare(peer, stage, d);
    return digest;
  }

  /** `stage`'s digest here (hex), if this peer has one. */
  of(stage: number): string | undefined {
    return this.mine.get(stage);
  }

  private keep(stage: number, digest: Uint8Array): void {
    this.mine.set(stage, hex(digest));
    for (const s of this.mine.keys()) if (s <= stage - KEPT) this.mine.delete(s);
    writeFileAtomic(path.join(this.dir, DIGEST_FILE), `${JSON.stringify(Object.fromEntries(this.mine))}\n`);
  }

  /** The digest of `stage` every other peer that spoke of it names (undefined when none did, or they differ). */
  private agreed(stage: number): Uint8Array<ArrayBuffer> | undefined {
    const others = new Set(this.heard.get(stage)?.values() ?? []);
    return others.size === 1 ? new Uint8Array(Buffer.from([...others][0], 'hex')) : undefined;
  }

  /** The last stage this peer has a digest of, and that digest (its heartbeats carry it, a restart included). */
  latest(): { stage: number; bytes: Uint8Array<ArrayBuffer> } | undefined {
    const stage = Math.max(...this.mine.keys());
    return Number.isFinite(stage)
      ? { stage, bytes: new Uint8Array(Buffer.from(this.mine.get(stage)!, 'hex')) }
      : undefined;
  }

  /**
   * `stage`'s digest as every other peer that spoke of it names it, taken as this peer's (a peer that restarted within
   * the stage holds none of what it included); undefined when they do not agree, or none spoke yet.
   */
  adopt(stage: number): Uint8Array<ArrayBuffer> | undefined {
    const agreed = this.agreed(stage);
    if (agreed) this.keep(stage, agreed);
    return agreed;
  }

  /** Another peer's digest of `stage`: compared with this peer's once it has one. */
  hear(peer: PeerId, stage: number, digest: Uint8Array): void {
    const now = this.stage();
    if (stage > now + 1) return;
    const byPeer = this.heard.get(stage) ?? new Map<string, string>();
    byPeer.set(peer.toString(), hex(digest));
    this.heard.set(stage, byPeer);
    const oldest = Math.min(now, stage) - KEPT;
    for (const s of this.heard.keys()) if (s <= oldest) this.heard.delete(s);
    for (const [key, s] of this.reported) if (s <= oldest) this.reported.delete(key);
    this.compare(peer.toString(), stage, hex(digest));
  }

  /**
   * The digest before `stage`: this peer's, the team id's before stage 1, or else (a peer that lost its data dir) the
   * one every other peer that spoke of it names.
   */
  private previous(stage: number): Uint8Array | undefined {
    if (stage === 1) return createHash('sha256').update(this.team).digest();
    const known = this.mine.get(stage - 1);
    return known ? Buffer.from(known, 'hex') : this.agreed(stage - 1);
  }

  private compare(peer: string, stage: number, digest: string): void {
    const mine = this.mine.get(stage);
    if (!mine || mine === digest || this.reported.has(`${peer}/${stage}`)) return;
    this.reported.set(`${peer}/${stage}`, stage);
    bump(this.mismatchFrom, peer);
    this.log(
      `stage ${stage}'s digest differs between this peer (${mine.slice(0, 16)}…) and peer ${peer} ` +
        `(${digest.slice(0, 16)}…): the two disagree on which updates or shards the stage included`,
    );
  }
}
