// Coordinator-free token passing in SAT's block order (docs/design §4.10). For a stage every
// peer holds the same plan: the order (slots by position) and the peer of each slot. Position 0's
// peer starts with the token; a holder that is done hands the next position over /sat/token/1 (a
// TokenPass, answered by a TokenAck) and gossips the pass, so every peer follows the stage.
//
// Silence: a holder re-gossips its pass every third of a deadline while it works (a keepalive). When
// nothing is heard of position p or beyond for a while, the peer of position q > p takes the token
// itself after (q - p) deadlines — the next in order first, the one after it a deadline later — and
// gossips that it did; the positions in between are skipped this stage (a zero-size step, so the
// stage bound still holds). Keepalives hold a position for at most MAX_HOLD_DEADLINES deadlines. A
// pass is taken only from the holder before it (or, for a takeover or a keepalive, from its own
// receiver). Exactly one holder per (stage, position): only order[q]'s peer
// holds q, and it takes q once; duplicate and late passes are counted and change nothing. A direct
// pass is acked only once accepted; one for a stage not begun yet is kept until it begins, if it comes from
// the peer that will then hold either end of it. Streams are read with every length bounded (frames.ts).
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import {
  PROTOCOL_VERSION,
  type TokenPass,
  decodeTokenAck,
  decodeTokenPass,
  encodeTokenAck,
  encodeTokenPass,
} from './codec.ts';
import { bump } from './counters.ts';
import { FrameError, StreamReader, sendFrames } from './frames.ts';
import type { PeerHost } from './host.ts';

export const TOKEN_PROTOCOL = '/sat/token/1';
/** The gossip topic on which a team's hand-offs are announced. */
export const tokenTopic = (team: string) => `sat/${team}/token`;
/**
 * How long a holder may stay silent before the next in order takes over (a working holder keeps alive every third of
 * it).
 */
export const DEADLINE_MS = 30_000;
/** Keepalives keep a position for at most this many deadlines: a holder that never hands on is taken over then. */
export const MAX_HOLD_DEADLINES = 20;
/** A pass for a stage not begun yet is kept only this many stages ahead of this peer's. */
const MAX_STAGES_AHEAD = 2;
/** Passes kept for stages not begun yet from one peer (a hand-off and a takeover a stage), and from all. */
const MAX_EARLY_FROM = 2 * MAX_STAGES_AHEAD;
const MAX_EARLY = 64;
/** The largest pass or ack read from a stream (a pass names one update CID). */
const MAX_FRAME_BYTES = 4096;
/** A stream that sends nothing for this long is dropped. */
const IDLE_MS = 5_000;

export interface StagePlan {
  stage: number;
  /** Slots by order position (sigma). */
  order: number[];
  /** The peer holding each slot. */
  peers: ReadonlyMap<number, PeerId>;
}

/** This peer's turn: the position it holds, and how it came to it. */
export interface Turn {
  stage: number;
  position: number;
  /** The pass that handed it over (none at position 0, or when taken over). */
  pass?: TokenPass;
  /** Taken after the holders before it fell silent. */
  takeover: boolean;
}

export interface TokenCounters {
  handoffs: number;
  acked: number;
  takeovers: number;
  /** Passes for a position already held or passed. */
  ignored: number;
  /**
   * Passes that failed validation or framing, came from a peer holding neither end of them, or named a stage too far
   * ahead.
   */
  rejected: number;
  /** Rejected passes by sender (bounded, counters.ts). */
  rejectedFrom: Map<string, number>;
}

export interface TokenPassingInit {
  team: string;
  /** This peer's slot, and the team's number of slots. */
  slot: number;
  slots: number;
  deadlineMs?: number;
  /** How long keepalives may hold one position (default MAX_HOLD_DEADLINES deadlines). */
  maxHoldMs?: number;
  /** The peer holding each slot in a stage (the roster's): a pass for a stage not begun yet must come from one. */
  peers: (stage: number) => ReadonlyMap<number, PeerId>;
  /** The stage this peer is in before its first plan (a restarted peer's saved stage). */
  stage: () => number;
  onTurn: (turn: Turn) => void;
}

export class TokenPassing {
  readonly counters: TokenCounters = {
    handoffs: 0,
    acked: 0,
    takeovers: 0,
    ignored: 0,
    rejected: 0,
    rejectedFrom: new Map(),
  };
  private plan?: StagePlan;
  /** The highest position known to be held this stage, and when that became known. */
  private progress = -1;
  private progressAt = 0;
  /** When the highest position held became known (keepalives extend its silence only within maxHold of it). */
  private progressSince = 0;
  private readonly mine = new Set<number>();
  /** The position this peer holds and has not handed on, and when it last said so. */
  private holding?: number;
  private keptAliveAt = 0;
  /** Passes for a stage not begun yet, with their senders. */
  private early: { pass: TokenPass; from: PeerId }[] = [];
  private watchdog?: NodeJS.Timeout;
  private readonly deadline: number;
  private readonly maxHold: number;

  constructor(
    private readonly host: PeerHost,
    private readonly init: TokenPassingInit,
  ) {
    this.deadline = init.deadlineMs ?? DEADLINE_MS;
    this.maxHold = init.maxHoldMs ?? MAX_HOLD_DEADLINES * this.deadline;
  }

  async start(): Promise<void> {
    const { team, slots } = this.init;
    await this.host.libp2p.handle(
      TOKEN_PROTOCOL,
      async (stream, connection) => {
        const from = connection.remotePeer;
        const reader = new StreamReader(stream, { maxBuffered: MAX_FRAME_BYTES + 8, idleMs: IDLE_MS });
        const signal = AbortSignal.timeout(this.deadline);
        let accepted = false; // once accepted, a failing ack is the sender's loss, not its fault
        try {
          const frame = await reader.frame(MAX_FRAME_BYTES, signal);
          if (!frame) throw new FrameError('truncated', 'the stream ended before a pass');
          const d = decodeTokenPass(frame, { team, slots, ...(this.plan ? { stage: this.plan.stage } : {}) });
          if (!d.ok) throw new Error(`invalid TokenPass (${d.reason} at ${d.field})`);
          if (d.message.to !== this.init.slot || !this.receive(d.message, from))
            throw new Error('the pass was not accepted');
          accepted = true;
          const ack = { version: PROTOCOL_VERSION, team, stage: d.message.stage, position: d.message.position };
          await sendFrames(stream, [encodeTokenAck({ ...ack, slot: this.init.slot })], signal);
          await stream.close({ signal });
        } catch (err) {
          if (!accepted) this.reject(from);
          stream.abort(err as Error);
        } finally {
          reader.release();
        }
      },
      { maxInboundStreams: 16 },
    );
    this.host.subscribe(
      tokenTopic(team),
      (b) => decodeTokenPass(b, { team, slots }),
      (pass, from) => {
        if (!this.receive(pass, from)) this.reject(from);
      },
    );
  }

  /** Starts following `plan`'s stage: position 0's peer has the token. */
  beginStage(plan: StagePlan): void {
    this.plan = plan;
    this.mine.clear();
    this.holding = undefined;
    this.progress = -1;
    this.note(0);
    if (plan.order[0] === this.init.slot) this.take(0, undefined, false);
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.tick(), Math.max(10, this.deadline / 10));
    // Passes for this stage that came before it began.
    const early = this.early.filter((e) => e.pass.stage === plan.stage);
    this.early = this.early.filter((e) => e.pass.stage > plan.stage);
    for (const e of early) this.receive(e.pass, e.from);
  }

  /**
   * Hands the position after `position` (which this peer holds) to its peer, directly (waiting for
   * the ack) and by gossip; `update` names this holder's LogprobUpdate. True when the receiver acked.
   * After the last position the stage's token is simply done.
   */
  async handOff(position: number, update?: CID): Promise<boolean> {
    const plan = this.plan;
    if (!plan || !this.mine.has(position)) throw new Error(`this peer does not hold position ${position} of the stage`);
    const next = position + 1;
    if (next >= plan.order.length) {
      this.holding = undefined; // the stage's last update is done: nothing to keep alive
      return true;
    }
    const pass: TokenPass = {
      version: PROTOCOL_VERSION,
      team: this.init.team,
      stage: plan.stage,
      position: next,
      from: this.init.slot,
      to: plan.order[next],
      time: Date.now(),
      ...(update ? { update: update.bytes } : {}),
    };
    const bytes = encodeTokenPass(pass);
    this.counters.handoffs++;
    this.holding = undefined;
    this.note(next);
    const gossip = this.host.publish(tokenTopic(this.init.team), bytes).catch(() => 0);
    const acked = await this.sendDirect(plan.peers.get(pass.to), bytes, pass);
    await gossip;
    if (acked) this.counters.acked++;
    return acked;
  }

  /**
   * Whether the token is known held past `position`, which this peer holds and has not handed on (docs/design §4.10):
   * a later position's peer took it over, counting this peer's update skipped unless it had come.
   */
  takenPast(position: number): boolean {
    return this.mine.has(position) && this.progress > position;
  }

  /** The highest position known held this stage, and for how long nothing newer has been heard of it. */
  get silence(): { position: number; ms: number } {
    return { position: this.progress, ms: Date.now() - this.progressAt };
  }

  async stop(): Promise<void> {
    clearInterval(this.watchdog);
    this.plan = undefined;
    this.host.unsubscribe(tokenTopic(this.init.team));
    await this.host.libp2p.unhandle(TOKEN_PROTOCOL);
  }

  private async sendDirect(peer: PeerId | undefined, bytes: Uint8Array, pass: TokenPass): Promise<boolean> {
    if (!peer) return false;
    const signal = AbortSignal.timeout(this.deadline);
    try {
      const stream = await this.host.libp2p.dialProtocol(peer, TOKEN_PROTOCOL, { signal });
      const reader = new StreamReader(stream, { maxBuffered: MAX_FRAME_BYTES + 8 });
      try {
        await sendFrames(stream, [bytes], signal);
        const frame = await reader.frame(MAX_FRAME_BYTES, signal);
        const ack = frame && decodeTokenAck(frame, { team: this.init.team });
        await stream.close({ signal });
        return (
          ack?.ok === true &&
          ack.message.stage === pass.stage &&
          ack.message.position === pass.position &&
          ack.message.slot === pass.to
        );
      } catch (err) {
        stream.abort(err as Error);
        throw err;
      } finally {
        reader.release();
      }
    } catch {
      return false; // the receiver is gone or slow: gossip carries the pass, silence handling does the rest
    }
  }

  /**
   * A pass seen directly or by gossip; whether it was accepted. It must come from the holder before
   * its position (a hand-off) or from its own receiver (a takeover, or a keepalive of the position
   * held now); a pass for a stage not begun yet is kept for it.
   */
  private receive(pass: TokenPass, from: PeerId): boolean {
    const plan = this.plan;
    if (!plan || pass.stage > plan.stage) return this.keepEarly(pass, from);
    if (pass.stage < plan.stage || pass.position >= plan.order.length || plan.order[pass.position] !== pass.to)
      return false;
    const handOff =
      pass.position > 0 && pass.from === plan.order[pass.position - 1] && plan.peers.get(pass.from)?.equals(from);
    const byReceiver = plan.peers.get(pass.to)?.equals(from);
    if (!handOff && !byReceiver) return false;
    // A hand-off comes from the position known held: a member cannot push the token past a holder.
    if (handOff && !byReceiver && pass.position > this.progress + 1) return false;
    if (pass.position < this.progress) {
      this.counters.ignored++; // late: the token has moved on
      return pass.to === this.init.slot && this.mine.has(pass.position);
    }
    // A keepalive, or the pass of the position known held: the holder is alive, for a while.
    if (pass.position === this.progress && Date.now() - this.progressSince < this.maxHold) this.progressAt = Date.now();
    this.note(pass.position);
    if (pass.to === this.init.slot) this.take(pass.position, pass, false);
    return true;
  }

  /**
   * Keeps a pass for a stage not begun yet, for when it begins: only from the peer holding either end of it at that
   * stage, at most MAX_STAGES_AHEAD stages ahead, the latest pass per (stage, position), a few from each peer.
   */
  private keepEarly(pass: TokenPass, from: PeerId): boolean {
    if (pass.stage > (this.plan?.stage ?? this.init.stage()) + MAX_STAGES_AHEAD) return false;
    const peers = this.init.peers(pass.stage);
    if (!peers.get(pass.from)?.equals(from) && !peers.get(pass.to)?.equals(from)) return false;
    const same = this.early.findIndex((e) => e.pass.stage === pass.stage && e.pass.position === pass.position);
    if (same >= 0) this.early[same] = { pass, from };
    else if (this.early.length >= MAX_EARLY || this.early.filter((e) => e.from.equals(from)).length >= MAX_EARLY_FROM)
      return false;
    else this.early.push({ pass, from });
    return true;
  }

  private reject(from: PeerId): void {
    this.counters.rejected++;
    bump(this.counters.rejectedFrom, from.toString());
  }

  private note(position: number): void {
    if (position > this.progress)
      [this.progress, this.progressAt, this.progressSince] = [position, Date.now(), Date.now()];
  }

  private take(position: number, pass: TokenPass | undefined, takeover: boolean): void {
    if (this.mine.has(position)) {
      this.counters.ignored++;
      return;
    }
    this.mine.add(position);
    this.holding = position;
    this.keptAliveAt = Date.now();
    this.init.onTurn({ stage: this.plan!.stage, position, ...(pass ? { pass } : {}), takeover });
  }

  /**
   * Keeps the held position alive, and takes the token when the holders before this peer's next position have been
   * silent long enough.
   */
  private tick(): void {
    const plan = this.plan;
    if (!plan) return;
    if (this.holding !== undefined && this.progress > this.holding) this.holding = undefined; // taken over: none to keep
    if (this.holding !== undefined && Date.now() - this.keptAliveAt >= this.deadline / 3)
      this.keepAlive(plan, this.holding);
    const q = plan.order.findIndex((slot, position) => slot === this.init.slot && position > this.progress);
    if (q < 0) return;
    if (Date.now() - this.progressAt < (q - this.progress) * this.deadline) return;
    this.counters.takeovers++;
    this.note(q);
    const pass: TokenPass = {
      version: PROTOCOL_VERSION,
      team: this.init.team,
      stage: plan.stage,
      position: q,
      from: plan.order[q - 1],
      to: this.init.slot,
      time: Date.now(),
    };
    void this.host.publish(tokenTopic(this.init.team), encodeTokenPass(pass)).catch(() => 0);
    this.take(q, undefined, true);
  }

  /** Gossips "still holding `position`": a pass to this peer from the slot before it (any other slot at position 0). */
  private keepAlive(plan: StagePlan, position: number): void {
    this.keptAliveAt = Date.now();
    const from = position > 0 ? plan.order[position - 1] : plan.order.find((slot) => slot !== this.init.slot);
    if (from === undefined) return; // a one-slot team has no one to take over
    const pass: TokenPass = {
      version: PROTOCOL_VERSION,
      team: this.init.team,
      stage: plan.stage,
      position,
      from,
      to: this.init.slot,
      time: Date.now(),
    };
    void this.host.publish(tokenTopic(this.init.team), encodeTokenPass(pass)).catch(() => 0);
  }
}
