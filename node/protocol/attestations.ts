// Attestations (docs/design §4.16, §4.17): a replica's signed word on whether its slot's update, or a chunk of its
// slot's turn another peer made, holds up, gossiped on sat/<team>/attest and repeated for a while. Each is signed by
// its replica's key over the message encoded without the signature, so it stays checkable when another peer passes it
// on as evidence inside its own update.
// What an attestation is worth (who may sign one, how many agree) is the caller's business.
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromMultihash } from '@libp2p/peer-id';
import * as Digest from 'multiformats/hashes/digest';
import { cidFromBytes } from './cid.ts';
import { Attestation, PROTOCOL_VERSION, decodeAttestation, encodeAttestation } from './codec.ts';
import { bump } from './counters.ts';
import type { PeerHost } from './host.ts';
import { nextRepeat } from './repeats.ts';

export const attestTopic = (team: string) => `sat/${team}/attest`;
/**
 * How often this peer looks for attestations to gossip again, and for how long each is: each at twice its age (2, 4,
 * 8, 16, 32 s after it was made), so a stage's many attestations cost few repeats each.
 */
const REPEAT_MS = 2_000;
const REPEAT_FOR_MS = 60_000;

/** An attestation whose signature holds, with its signer and its bytes as signed (to pass on as evidence). */
export interface Signed {
  attestation: Attestation;
  signer: PeerId;
  bytes: Uint8Array;
}

/** What an attestation says, before it is signed. */
export type Claim = Pick<Attestation, 'stage' | 'position' | 'slot' | 'update' | 'holds' | 'why' | 'abstains'>;

export interface AttestationsInit {
  team: string;
  slots: number;
  /** This peer's key: it signs this peer's attestations. */
  privateKey: PrivateKey;
}

export class Attestations {
  /** Dropped attestations by why ('signature': a signature that does not hold, or one of another peer's). */
  readonly dropped = new Map<string, number>();
  /** Signed attestations heard (and made here), by the CID of the update they check, one per signer. */
  private readonly byUpdate = new Map<string, Map<string, Signed>>();
  /** This peer's attestations, each repeated for a while (REPEAT_FOR_MS) while its stage runs, next at `next`. */
  private readonly mine: (Signed & { since: number; next: number })[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly listeners: ((s: Signed) => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly host: PeerHost,
    private readonly init: AttestationsInit,
  ) {}

  start(): void {
    const { team, slots } = this.init;
    this.host.subscribe(
      attestTopic(team),
      (b) => decodeAttestation(b, { team, slots }),
      (a, from) => void this.hear(a, from),
    );
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const s of this.mine) {
        if (now - s.since >= REPEAT_FOR_MS || now < s.next) continue;
        s.next = nextRepeat(s.since, now, REPEAT_MS);
        void this.host.publish(attestTopic(team), s.bytes).catch(() => 0);
      }
    }, REPEAT_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.host.unsubscribe(attestTopic(this.init.team));
  }

  /** Signs `claim` as this peer's, keeps it, and gossips it now and again for a while, until its stage is forgotten. */
  async attest(claim: Claim): Promise<void> {
    const unsigned: Attestation = {
      version: PROTOCOL_VERSION,
      team: this.init.team,
      ...claim,
      peer: this.host.peerId.toMultihash().bytes,
    };
    const signature = new Uint8Array(await this.init.privateKey.sign(encodeUnsigned(unsigned)));
    const attestation = { ...unsigned, signature };
    const signed = { attestation, signer: this.host.peerId, bytes: encodeAttestation(attestation) };
    this.mine.push({ ...signed, since: Date.now(), next: Date.now() + REPEAT_MS });
    this.keep(signed);
    await this.host.publish(attestTopic(this.init.team), signed.bytes).catch(() => 0);
  }

  /** The signed attestations of the update `cid` heard so far, one per signer. */
  of(cid: string): Signed[] {
    return [...(this.byUpdate.get(cid)?.values() ?? [])];
  }

  /** Calls `fn` with each signed attestation kept from now on (heard, or made here). */
  listen(fn: (s: Signed) => void): void {
    this.listeners.push(fn);
  }

  /** Resolves once `done()` holds (checked now and at each attestation heard), or after `ms`. */
  async until(done: () => boolean, ms: number): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!done()) return;
        finish();
      };
      const timer = setTimeout(() => finish(), ms);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Forgets the attestations of stages before `stage`. */
  dropBefore(stage: number): void {
    for (const [cid, bySigner] of this.byUpdate)
      if ([...bySigner.values()].every((s) => s.attestation.stage < stage)) this.byUpdate.delete(cid);
    this.mine.splice(0, this.mine.length, ...this.mine.filter((s) => s.attestation.stage >= stage));
  }

  private async hear(a: Attestation, from: PeerId): Promise<void> {
    const signed = await verifySigned(a);
    // Gossip carries a replica's own attestations only: one passed on goes inside an update, as evidence.
    if (!signed?.signer.equals(from)) return void bump(this.dropped, 'signature');
    this.keep(signed!);
  }

  private keep(s: Signed): void {
    const cid = cidFromBytes(s.attestation.update!)!.toString();
    const bySigner = this.byUpdate.get(cid) ?? new Map<string, Signed>();
    this.byUpdate.set(cid, bySigner);
    bySigner.set(s.signer.toString(), s);
    for (const check of [...this.waiters]) check();
    for (const fn of this.listeners) fn(s);
  }
}

/** The attestation as signed: encoded without its signature. */
const encodeUnsigned = (a: Attestation) => Attestation.encode({ ...a, signature: undefined });

/**
 * An attestation passed on as evidence (its bytes), decoded for `team` and checked: its signature must hold for the
 * peer it names. Undefined otherwise.
 */
export async function evidenceOf(bytes: Uint8Array, team: string, slots: number): Promise<Signed | undefined> {
  const d = decodeAttestation(bytes, { team, slots });
  return d.ok ? verifySigned(d.message) : undefined;
}

async function verifySigned(a: Attestation): Promise<Signed | undefined> {
  try {
    const signer = peerIdFromMultihash(Digest.decode(a.peer!));
    const key = signer.publicKey;
    if (!key || !(await key.verify(encodeUnsigned(a), a.signature!))) return undefined;
    return { attestation: a, signer, bytes: encodeAttestation(a) };
  } catch {
    return undefined;
  }
}
