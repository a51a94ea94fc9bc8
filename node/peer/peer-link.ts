// The StageLink of a network team (docs/design §1 step 3, §4): how one peer's stage reaches the agents
// on the other peers. Turns travel as trajectory shards (a chain's partial shard goes to the peer of
// the next turn; the complete one to every learner); updates as LogprobUpdate blocks, each naming the
// earlier updates it learned after, and the token passes in the stage's order.
//
// Which updates a stage includes is decided by the data, the same on every peer: the update of
// position q lists the updates before it that its agent learned after (`after`); a position missing
// there was skipped (its peer fell silent and the next in order took over). A peer follows an update
// once the position after it has decided (the last position's update decides itself), or once it
// holds a later position itself: handed over, the pass names the update before; taken over, every
// position not decided yet counts by its update if that came, else as skipped.
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import type { ChainTranscript, RemoteTurn } from '../tasks/chain.ts';
import { takeShare, type TurnShare } from './turn-shares.ts';
import { HeldChunks, slotOf } from './held-chunks.ts';
import { cidFromBytes, cidFromString } from '../protocol/cid.ts';
import {
  BlockKind,
  type LogprobUpdate,
  MAX_BYTES,
  PROTOCOL_VERSION,
  type StageRecord as RecordMessage,
  type TrajectoryShard,
  decodeLogprobUpdate,
} from '../protocol/codec.ts';
import type { PeerHost } from '../protocol/host.ts';
import { ShardParts, splitShard } from '../protocol/shard-parts.ts';
import { ShardExchange } from '../protocol/shards.ts';
import { bump } from '../protocol/counters.ts';
import { adversaryHooks } from './adversary-hooks.ts';
import type { StageContent } from './stage-digests.ts';
import { DEADLINE_MS, MAX_HOLD_DEADLINES, TokenPassing, type Turn } from '../protocol/token-passing.ts';
import type {
  AgentStageRecord,
  ArrivedUpdate,
  SharedUpdate,
  StageLink,
  TurnMaker,
  UpdateTensors,
} from '../sat/stage.ts';
import type { ParamSource } from '../agent/model/weights.ts';
import { type Attestations, evidenceOf } from '../protocol/attestations.ts';
import { type Checked, VERIFIERS, counting, verdictOf, verifierTurn } from './replica-verdict.ts';
import { rendezvous } from '../protocol/rendezvous.ts';
import { sleep } from '../util/until.ts';

export interface PeerLinkInit {
  /** The team id (the manifest's CID): names the topics. */
  team: string;
  slot: number;
  slots: number;
  /** Slot names, for the records of remote agents. */
  names: readonly string[];
  /** Turns of one rollout: the team's slots in the chain, 1 in the ensemble. */
  turnsPerRollout: number;
  /** The peer holding each slot in a stage (the roster's). */
  peers: (stage: number) => ReadonlyMap<number, PeerId>;
  isMember: (peer: PeerId) => boolean;
  /** Token-passing deadline (a silent holder is taken over after it). */
  deadlineMs?: number;
  /** The stage from which this peer takes its slot over from an incumbent (whose tensors it then fetches). */
  takeOverAt?: number;
  /**
   * How long an update or the token may take to come before the stage fails (default 10 minutes). A
   * turn is waited for as long as it takes, with a line this often (at most every minute).
   */
  waitMs?: number;
  /** Hears what this peer is waiting for, while it waits long. */
  log?: (line: string) => void;
  /** Hears this peer take the token (its update starts). */
  onTurn?: (stage: number, position: number) => void;
  /**
   * Whether every other slot's live peer is past `stage` (the roster's heartbeats): an observer's last undecided
   * position is then skipped.
   */
  teamPast?: (stage: number) => boolean;
  /** Bytes of the largest shard this peer makes (default the protocol's limit); a larger rollout goes as several. */
  shardBytes?: number;
  /** Whether `peer` claims `slot` at `stage` (its trainer or a replica: the replicas attest its updates). */
  claims: (slot: number, peer: PeerId, stage: number) => boolean;
  /** Whether `peer` may make `slot`'s turns at `stage` (default `claims`): its trainer, not a live replica. */
  makesTurns?: (slot: number, peer: PeerId, stage: number) => boolean;
  /** Excludes `peer` from the team from stage `from` on for what it sent (`why`). */
  exclude?: (peer: PeerId, why: string, from: number) => void;
  /** The replicas' attestations (docs/design §4.16): this peer's, and those it hears. */
  attestations?: Attestations;
  /** How many replicas `slot` has at `stage` besides its trainer. */
  replicas?: (slot: number, stage: number) => number;
  /** Offers this peer's new policy tensors for its slot's replicas: the CID of their manifest; none without replicas. */
  offerWeights?: (stage: number, params: ParamSource) => Promise<CID | undefined>;
  /** Fetches the policy tensors of manifest `cid` from `from` (an update's, for this replica to check it by). */
  fetchWeights?: (cid: CID, from: PeerId) => Promise<ReadonlyMap<string, { data: Float32Array }>>;
  /** How long the peer after an update waits for its replicas' word (default: two deadlines, at least 10 s). */
  verifyWaitMs?: number;
  /** `slot`'s line at `stage`: its trainer, then its replicas in rank order (they share its turns, §4.17). */
  line?: (slot: number, stage: number) => PeerId[];
  /** What a stage's shared turns are assigned over: the digest of the stage before (hex); the team id without one. */
  seedOf?: (stage: number) => string | undefined;
}

export class LinkTimeoutError extends Error {
  override name = 'LinkTimeoutError';
}

/** The peers disagree on what the stage holds (another config, seed or model than the team's). */
export class LinkDivergedError extends Error {
  override name = 'LinkDivergedError';
}

/** Values to wait for by key, each settled once. */
class Waits<T> {
  private readonly values = new Map<string, T>();
  private readonly waiters = new Map<string, ((v: T) => void)[]>();

  set(key: string, value: T): void {
    if (this.values.has(key)) return;
    this.values.set(key, value);
    for (const w of this.waiters.get(key) ?? []) w(value);
    this.waiters.delete(key);
  }

  get(key: string): T | undefined {
    return this.values.get(key);
  }

  /** Sets `key` again, once a value set before proved wrong: only those who wait from now on hear the new one. */
  reset(key: string, value: T): void {
    this.values.set(key, value);
  }

  /** Calls `then` with the value of `key` once it is set (now, if it is). */
  on(key: string, then: (v: T) => void): void {
    if (this.values.has(key)) return then(this.values.get(key)!);
    const list = this.waiters.get(key) ?? [];
    list.push(then);
    this.waiters.set(key, list);
  }

  wait(key: string, ms: number, what: string): Promise<T> {
    return timed(ms, what, (resolve) => this.on(key, resolve));
  }

  /** Forgets the values of stages before `stage` (keys start with `<stage>/`), and who waited for them. */
  dropBefore(stage: number): void {
    for (const map of [this.values, this.waiters])
      for (const key of map.keys()) if (Number(key.split('/')[0]) < stage) map.delete(key);
  }
}

/** A promise settled by `start`'s resolve, or rejected with a LinkTimeoutError naming `what` after `ms`. */
function timed<T>(ms: number, what: string, start: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new LinkTimeoutError(`waited ${Math.round(ms / 1000)} s for ${what}: its peer is gone or the network is cut`),
        ),
      ms,
    );
    start((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

interface Held {
  update: LogprobUpdate;
  cid: string;
  /** The CID of a later update of the stage that names it refused: the stage went on without it (docs/design §4.15). */
  refusedBy?: string;
}

/** Attestations passed on as evidence for one refused update, at most (an update's `evidence` holds at most 64). */
const EVIDENCE = 8;
/** How long an update or the token may take to come before the stage fails. */
const WAIT_MS = 10 * 60_000;
/** Publishing before any peer's subscription is known fails: tried again for a while. */
const PUBLISH_TRIES = 50;
/** How often this peer's announcements of the stage (and the one before) are gossiped again. */
const REPEAT_MS = 2_000;

export class PeerLink implements StageLink {
  readonly shards: ShardExchange;
  readonly token: TokenPassing;
  private stage = 0;
  /**
   * Whether this peer follows the stage without a turn in it (a restarted peer catching up on a stage that went on
   * without it).
   */
  private observing = false;
  /** Since when an observer has seen every other peer past the stage (see watchLast). */
  private teamPastSince?: number;
  private order: number[] = [];
  /** Shards of the stage by rollout and turns held (a split rollout once all its parts are here). */
  private readonly turns = new Waits<TrajectoryShard>();
  private readonly parts = new ShardParts();
  /** The shard CIDs of the stage's complete rollouts (one per part, in order), by rollout. */
  private readonly complete = new Map<string, Uint8Array<ArrayBuffer>[]>();
  /** The stage's updates by CID, as they arrive. */
  private readonly updates = new Map<string, LogprobUpdate>();
  /** The peer each update came from (an observer fetches what it names from there). */
  private readonly updateFrom = new Map<string, PeerId>();
  /** What each position came to: its update, or null when skipped. */
  private readonly decided = new Waits<Held | null>();
  /** Shards an update named (an observer fetches them from whoever has them: their CID vouches for them). */
  private readonly named = new Map<string, number>();
  /** Whether this peer makes and checks a share of its slot's turns this stage (a replica out of step does not). */
  private sharesTurns = true;
  /** Chunks of shared turns this peer made, by stage (§4.17). */
  readonly chunksMade = new Map<number, number>();
  /** Chunks of shared turns held for their check (§4.17); none without attestations. */
  private readonly heldChunks?: HeldChunks;
  /** Chunks refused here on another peer of their slot's word, by maker. */
  readonly refusedChunks = new Map<string, number>();
  /** Shards whose sender does not hold the slot of their last turns, by sender. */
  readonly forged = new Map<string, number>();
  /** Updates refused here, by their maker. */
  readonly refusedFrom = new Map<string, number>();
  /** The updates refused here (their records or log-probs did not hold up), by CID, with their stage. */
  private readonly refused = new Map<string, number>();
  /** The positions this peer holds. */
  private readonly mine = new Waits<Turn>();
  /** This peer's update of each stage, as it sent it: its position and CID (see mineIn). */
  private readonly sent = new Map<number, { position: number; cid: string }>();
  /** Each position's update as it first arrives (a replica checks it then), by stage/position. */
  private readonly arrived = new Waits<Held>();
  /** The attestations this peer refused an update on (its next update carries them), by the update's CID. */
  private readonly evidence = new Map<string, Uint8Array<ArrayBuffer>[]>();
  /** What the incumbent hands over (the CID of its tensors' chunk manifest), and its peer. */
  private readonly incumbent = new Waits<{ bytes: Uint8Array; from: PeerId }>();
  private readonly waitMs: number;
  private readonly deadlineMs: number;
  private repeater?: NodeJS.Timeout;
  /** The reminders of turns waited for (see waitTurn). */
  private readonly reminders = new Set<NodeJS.Timeout>();

  constructor(
    private readonly host: PeerHost,
    private readonly init: PeerLinkInit,
  ) {
    this.waitMs = init.waitMs ?? WAIT_MS;
    this.deadlineMs = init.deadlineMs ?? DEADLINE_MS;
    this.heldChunks =
      init.attestations &&
      new HeldChunks({
        attestations: init.attestations,
        claims: init.claims,
        line: (slot, stage) => init.line?.(slot, stage) ?? [],
        waitMs: Math.max(10 * this.deadlineMs, 60_000),
        take: (h) => this.takeShard(h.part, h.cid, h.maker),
        forget: (h) => this.host.blocks.store.delete(h.cid), // fetched again if announced again
        refuse: (h, _by, why) => {
          bump(this.refusedChunks, h.maker.toString());
          this.init.exclude?.(
            h.maker,
            `it made chunk ${h.part.chunk} of slot ${slotOf(h.part)}'s turn in stage ${h.part.stage}'s ` +
              `${h.part.rollout}, which does not hold up as another peer of the slot checked it (${why})`,
            h.part.stage + 1,
          );
        },
        ...(init.log ? { log: init.log } : {}),
      });
    this.shards = new ShardExchange(host, {
      team: init.team,
      slots: init.slots,
      isMember: init.isMember,
      stage: () => this.stage,
      onShard: (shard, cid, from) => this.onShard(shard, cid, from),
      onShardAgain: (cid, from) => this.heldChunks?.madeToo(cid, from),
      onUpdate: (update, cid, from) => this.onUpdate(update, cid.toString(), from),
      wantsParams: (a, from) =>
        a.stage === init.takeOverAt &&
        init
          .peers(a.stage - 1)
          .get(init.slot)
          ?.equals(from) === true,
      onParams: (bytes, a, from) => this.incumbent.set(String(a.stage), { bytes, from }),
    });
    this.token = new TokenPassing(host, {
      team: init.team,
      slot: init.slot,
      slots: init.slots,
      ...(init.deadlineMs ? { deadlineMs: init.deadlineMs } : {}),
      // A holder that keeps the token past this is taken over well before the others' waits for it run out.
      maxHoldMs: maxHold(this.deadlineMs, this.waitMs),
      peers: init.peers,
      stage: () => this.stage,
      onTurn: (turn) => void this.onTurn(turn),
    });
  }

  async start(): Promise<void> {
    this.shards.start();
    await this.token.start();
    this.repeater = setInterval(() => void this.shards.repeat(this.stage), REPEAT_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.repeater);
    for (const r of this.reminders) clearInterval(r);
    this.shards.stop();
    await this.token.stop();
  }

  /**
   * Starts following `stage`: what earlier stages left is dropped (what came early for it is kept).
   * An observer takes no turn and holds no token in it: it reads the stage from what the others
   * made, and fetches by CID what their updates name and it missed.
   */
  beginStage(stage: number, observe = false, sharesTurns = !observe): void {
    this.stage = stage;
    this.observing = observe;
    this.sharesTurns = sharesTurns;
    this.teamPastSince = undefined;
    this.order = [];
    for (const w of [this.turns, this.decided, this.mine, this.parts, this.arrived]) w.dropBefore(stage);
    this.heldChunks?.dropBefore(stage);
    this.evidence.clear();
    for (const s of this.sent.keys()) if (s < stage) this.sent.delete(s);
    this.init.attestations?.dropBefore(stage);
    for (const key of this.complete.keys()) if (Number(key.split('/')[0]) < stage) this.complete.delete(key);
    for (const map of [this.refused, this.named]) for (const [cid, s] of map) if (s < stage) map.delete(cid);
    for (const [cid, u] of this.updates)
      if (u.stage < stage) {
        this.updates.delete(cid);
        this.updateFrom.delete(cid);
      }
    // An observer follows the stage from the updates heard before it began: what they name, it fetches.
    if (observe)
      for (const [cid, u] of this.updates) {
        const from = this.updateFrom.get(cid);
        if (u.stage === stage && from) this.fetchMissed(u, from);
      }
    // Blocks of two stages back are forgotten: a peer that restarts catches up on the last one.
    this.shards.forgetBefore(stage - 1);
  }

  /** Hands this peer's slot over from `stage`: `bytes` name its agent's tensors for the newcomer to fetch. */
  async handOver(stage: number, bytes: Uint8Array): Promise<void> {
    await this.publishing(() => this.shards.publishParams(stage, bytes));
  }

  /** What the incumbent this peer takes over from at `stage` handed over, and its peer. */
  async incumbentParams(stage: number): Promise<{ bytes: Uint8Array; from: PeerId }> {
    return this.incumbent.wait(
      String(stage),
      this.waitMs,
      `the tensors of slot ${this.init.slot}'s incumbent (handed over at stage ${stage})`,
    );
  }

  remoteTurn(stage: number, rollout: string, slot: number): RemoteTurn {
    return {
      take: async (transcripts, turn) => {
        const shard = await this.waitTurn(
          stage,
          turnKey(stage, rollout, turn + 1),
          `turn ${turn + 1} of stage ${stage}'s rollout ${rollout} (slot ${slot})`,
        );
        if (shard.trajectories.length !== transcripts.length)
          throw new LinkDivergedError(
            `slot ${slot}'s shard of ${rollout} has ${shard.trajectories.length} trajectories, this peer's rollout ${transcripts.length}`,
          );
        return shard.trajectories.map((t, r) => {
          const u = t.turns[turn];
          if (!sameStart(t, transcripts[r], turn) || u.slot !== slot)
            throw new LinkDivergedError(
              `slot ${slot}'s trajectory ${r} of ${rollout} starts otherwise than this peer's: the peers disagree on the rollout`,
            );
          return { tokens: u.ids, logprobs: u.logprobs };
        });
      },
    };
  }

  /** The transcripts of a complete rollout of `stage` made on another peer (e.g. an agent's solo evaluation). */
  async rollout(stage: number, rollout: string): Promise<ChainTranscript[]> {
    const shard = await this.waitTurn(
      stage,
      turnKey(stage, rollout, this.init.turnsPerRollout),
      `stage ${stage}'s rollout ${rollout}`,
    );
    return shard.trajectories.map((t) => ({
      promptIds: t.ids,
      turns: t.turns.map((u) => ({ slot: u.slot, ids: u.ids, logprobs: u.logprobs })),
    }));
  }

  /**
   * A turn no peer but its slot's can make: the rollout cannot go on without it, so it is waited for
   * as long as it takes (the peer restarting from its checkpoint, or another peer claiming the slot),
   * saying so now and then, rather than failing the stage on every other peer.
   */
  private waitTurn(stage: number, key: string, what: string): Promise<TrajectoryShard> {
    const since = Date.now();
    const reminder = setInterval(
      () => {
        if (this.stage > stage) {
          clearInterval(reminder);
          return void this.reminders.delete(reminder);
        }
        this.init.log?.(
          `waited ${Math.round((Date.now() - since) / 1000)} s for ${what}: the team goes on once its peer is ` +
            `back or another peer takes the slot`,
        );
      },
      Math.min(this.waitMs, 60_000),
    );
    this.reminders.add(reminder);
    return new Promise((resolve) =>
      this.turns.on(key, (shard) => {
        clearInterval(reminder);
        this.reminders.delete(reminder);
        resolve(shard);
      }),
    );
  }

  async shareTurn(stage: number, rollout: string, transcripts: readonly ChainTranscript[]): Promise<void> {
    const trajectories = transcripts.map((t, r) => ({
      prompt: r,
      group: 0,
      ids: t.promptIds,
      turns: t.turns,
      reward: 0,
    }));
    await this.publishShard(stage, rollout, trajectories);
  }

  /**
   * `slot`'s turn in `rollout`, shared among the peers of its line when it has replicas (docs/design §4.17): this peer
   * makes its share with `generator` and takes the rest as it comes. Undefined when the turn is not shared.
   */
  sharedTurn(stage: number, rollout: string, slot: number, maker?: TurnMaker): RemoteTurn | undefined {
    const line = (this.init.line?.(slot, stage) ?? []).map(String);
    const me = this.host.peerId.toString();
    if (!maker || !this.sharesTurns || line.length < 2 || !line.includes(me)) return undefined;
    const remote = this.remoteTurn(stage, rollout, slot);
    const held = this.heldChunks;
    return {
      generator: maker.generator,
      take: (transcripts, turn, make) => {
        const taken = remote.take(transcripts, turn);
        if (!make) return taken;
        const before = transcripts.map((t) => ({ ids: t.promptIds, turns: [...t.turns] }));
        const heldNow = () => held?.of(stage, rollout, turn + 1) ?? [];
        const share: TurnShare = {
          key: `${this.init.seedOf?.(stage) ?? this.init.team}/${stage}/${rollout}/${turn}`,
          rows: transcripts.length,
          line,
          me,
          deadlineMs: this.deadlineMs,
          make: adversaryHooks().turnRows?.(make) ?? make,
          again: make,
          rescore: maker.rescore,
          arrived: (c) => this.parts.hasChunk(stage, rollout, turn + 1, c) || heldNow().some((h) => h.part.chunk === c),
          excluded: (p) => held?.refusedMakers.has(p) ?? false,
          held: () =>
            heldNow().map((h) => ({
              cid: h.cid.toString(),
              chunk: h.part.chunk,
              maker: h.maker.toString(),
              since: h.since,
              rows: h.part.trajectories.map((t) => t.prompt),
              transcripts: h.part.trajectories.map((t) => ({ promptIds: t.ids, turns: t.turns })),
            })),
          publish: (chunk, chunks, rows, made) =>
            this.publishShard(
              stage,
              rollout,
              rows.map((r, i) => ({
                prompt: r,
                group: 0,
                ids: before[r].ids,
                turns: [...before[r].turns, { slot, ids: made[i].tokens, logprobs: made[i].logprobs }],
                reward: 0,
              })),
              { chunk, chunks },
            ),
          attest: (h, why) =>
            this.init.attestations!.attest({
              stage,
              position: 0,
              slot,
              update: cidFromString(h.cid)!.bytes,
              holds: why === undefined,
              why: why ?? '',
              abstains: false,
            }),
          whole: taken,
          over: () => this.stage !== stage,
        };
        takeShare(share).then(
          (n) => this.chunksMade.set(stage, (this.chunksMade.get(stage) ?? 0) + n),
          (e: Error) =>
            this.init.log?.(`could not make this peer's share of slot ${slot}'s turn in ${rollout}: ${e.message}`),
        );
        return taken;
      },
    };
  }

  /** Publishes `trajectories` of `stage`'s `rollout` (a chunk of a shared turn's rows), in as many parts as they need. */
  private async publishShard(
    stage: number,
    rollout: string,
    trajectories: TrajectoryShard['trajectories'],
    chunk?: Pick<TrajectoryShard, 'chunk' | 'chunks'>,
  ): Promise<void> {
    const parts = splitShard(
      { version: PROTOCOL_VERSION, team: this.init.team, stage, rollout, trajectories, ...chunk },
      this.init.shardBytes,
    );
    for (const part of adversaryHooks().shards?.(parts) ?? parts) {
      const ours = parts.includes(part);
      const made = ours && chunk ? (cid: CID) => this.heldChunks?.madeHere(part, cid) : undefined;
      const cid = await this.publishing(() => this.shards.publish(part, made));
      if (ours) this.onShard(part, cid);
    }
  }

  /** Whether `stage` is known past its rollout here: every training rollout seen complete, or an update of it seen. */
  rolledOut(stage: number): boolean {
    const rollouts = this.init.turnsPerRollout === 1 ? this.init.slots : 1;
    const complete = [...this.complete.keys()].filter((k) => k.startsWith(`${stage}/train/`)).length >= rollouts;
    return complete || [...this.updates.values()].some((u) => u.stage === stage);
  }

  /** The current stage's block order (slots by position); empty until it is known. */
  get stageOrder(): readonly number[] {
    return this.order;
  }

  setOrder(stage: number, order: number[]): void {
    this.order = order;
    if (!this.observing) this.token.beginStage({ stage, order, peers: this.init.peers(stage) });
    this.settle();
  }

  async receiveUpdate(stage: number, position: number): Promise<SharedUpdate | undefined> {
    const watch = setInterval(() => this.watchLast(stage), 500);
    try {
      const held = await this.decided.wait(
        `${stage}/${position}`,
        this.waitMs,
        `the update of position ${position} of stage ${stage}`,
      );
      if (!held) return undefined;
      if (held.refusedBy) return { ...sharedUpdate(held.update, this.init.names), refusedLater: true };
      const mine = this.mineIn(held.update);
      return { ...sharedUpdate(held.update, this.init.names), ...(mine ? { mine } : {}) };
    } finally {
      clearInterval(watch);
    }
  }

  /**
   * What `u`, an update the stage follows, says of this peer's own update before it (docs/design §4.11): made under it,
   * or without it, neither listed nor refused. Then the team went on without it (its token was taken over as it was
   * sent), and so does this peer: the position counts skipped here too, in the updates and digests this peer makes. (A
   * refused one's maker is excluded: what it makes of the stage no longer counts.)
   */
  private mineIn(u: LogprobUpdate): SharedUpdate['mine'] {
    const own = this.sent.get(u.stage);
    if (!own || own.position >= u.position) return undefined;
    const names = (cids: readonly Uint8Array[]) => cids.some((c) => cidFromBytes(c)?.toString() === own.cid);
    if (names(u.after)) return 'kept';
    if (names(u.refused)) return undefined;
    const key = `${u.stage}/${own.position}`;
    if (this.decided.get(key) !== null) {
      this.decided.reset(key, null);
      this.init.log?.(
        `stage ${u.stage}: the update of position ${u.position} was made without this peer's of position ` +
          `${own.position} (its token was taken over as it was sent): the team went on without it, and so does this peer`,
      );
    }
    return 'skipped';
  }

  /**
   * The update of `position` as soon as it arrives (before its position is decided), with the policy tensors it names,
   * fetched from its maker when asked for; undefined when the position is decided without one (docs/design §4.16).
   */
  async arrivedUpdate(stage: number, position: number): Promise<ArrivedUpdate | undefined> {
    const key = `${stage}/${position}`;
    const came = await timed<Held | null>(
      this.waitMs,
      `the update of position ${position} of stage ${stage}`,
      (resolve) => {
        this.arrived.on(key, resolve);
        this.decided.on(key, resolve);
      },
    );
    if (!came) return undefined;
    const from = this.updateFrom.get(came.cid);
    const weights = came.update.weights?.length ? cidFromBytes(came.update.weights) : undefined;
    return {
      ...sharedUpdate(came.update, this.init.names),
      ...(came.update.start?.length ? { start: came.update.start } : {}),
      weights: async () => {
        if (!weights || !from || !this.init.fetchWeights) throw new Error('its update names no weights to check it by');
        return this.init.fetchWeights(weights, from);
      },
    };
  }

  /** The update `held` of `position` as its replicas' attestations must name it (replica-verdict.ts). */
  private checked(stage: number, position: number, held: Held): Checked {
    const slot = this.order[position];
    const maker = this.updateFrom.get(held.cid) ?? this.init.peers(stage).get(slot);
    return { cid: held.cid, stage, position, slot, claims: this.init.claims, ...(maker ? { maker } : {}) };
  }

  /** How long the peer after an update waits for its replicas' word (at least 10 s). */
  private get verifyWaitMs(): number {
    return this.init.verifyWaitMs ?? Math.max(2 * this.deadlineMs, 10_000);
  }

  /**
   * Whether this replica is to re-score the update of `position` (docs/design §4.16): once its turn among the slot's
   * verifiers comes (verifierTurn: the first VERIFIERS of the line in the update's rendezvous order check it), false
   * once enough others did, or once no peer waits for its word any more (verifyWaitMs, or the stage ended).
   */
  async checksUpdate(stage: number, position: number): Promise<boolean> {
    const key = `${stage}/${position}`;
    const held = this.arrived.get(key) ?? this.decided.get(key);
    const attestations = this.init.attestations;
    if (!held || !attestations) return true;
    const u = this.checked(stage, position, held);
    const line = (this.init.line?.(u.slot, stage) ?? []).map(String).filter((p) => p !== u.maker?.toString());
    const ranked = rendezvous(`${this.init.seedOf?.(stage) ?? this.init.team}/${stage}/${position}/verify`, line);
    const since = Date.now();
    const turn = () => {
      const words = new Map(
        counting(attestations.of(held.cid), u).map((s) => [
          s.signer.toString(),
          s.attestation.abstains ? ('abstains' as const) : ('checked' as const),
        ]),
      );
      const me = this.host.peerId.toString();
      return verifierTurn(ranked, me, words, Date.now() - since, this.deadlineMs, this.verifyWaitMs);
    };
    while (turn() === 'wait' && this.stage === stage)
      await attestations.until(() => turn() !== 'wait', Math.min(this.deadlineMs, this.verifyWaitMs));
    return turn() === 'check' && this.stage === stage;
  }

  /** This peer's word, as a replica of the slot of `position`, on its update: signed and gossiped (§4.16). */
  async attest(stage: number, position: number, why: string | undefined, abstains = false): Promise<void> {
    const came = this.arrived.get(`${stage}/${position}`) ?? this.decided.get(`${stage}/${position}`);
    if (!came || !this.init.attestations) return;
    const slot = this.order[position];
    await this.init.attestations.attest({
      stage,
      position,
      slot,
      update: cidFromString(came.cid)!.bytes,
      holds: why === undefined,
      why: why ?? '',
      abstains,
    });
    if (!abstains)
      this.init.log?.(
        `stage ${stage}: slot ${slot}'s update ${why === undefined ? 'holds up' : `does not hold up (${why})`} as this ` +
          'replica re-scores it',
      );
  }

  /**
   * Why the update of `position` is refused on its slot's replicas' word (docs/design §4.16), or undefined. A later
   * update that names it refused carries the attestations it was refused on; the peer of the next position, and every
   * peer for the last one, waits for them (VERIFIERS of them, or verifyWaitMs) when the slot has replicas.
   */
  async replicasVerdict(stage: number, position: number): Promise<string | undefined> {
    const held = this.decided.get(`${stage}/${position}`);
    const attestations = this.init.attestations;
    if (!held || !attestations) return undefined;
    const u = this.checked(stage, position, held);
    const { slot } = u;
    if (held.refusedBy) {
      const later = this.updates.get(held.refusedBy);
      const given = await Promise.all(
        (later?.evidence ?? []).map((b) => evidenceOf(b, this.init.team, this.init.slots)),
      );
      return verdictOf(
        counting(
          given.filter((s) => s !== undefined),
          u,
        ),
      );
    }
    const next = !this.observing && this.order[position + 1] === this.init.slot;
    const replicas = this.init.replicas?.(slot, stage) ?? 0;
    if (!(next || position === this.order.length - 1) || replicas === 0) return undefined;
    // Until VERIFIERS of them (or all it has) checked it, or every replica spoke (one not in step abstains).
    const heard = () => counting(attestations.of(held.cid), u);
    const checked = () => heard().filter((s) => !s.attestation.abstains);
    const waitMs = this.verifyWaitMs;
    await attestations.until(
      () => checked().length >= Math.min(VERIFIERS, replicas) || heard().length >= replicas,
      waitMs,
    );
    const counted = checked();
    if (counted.length === 0 && heard().length < replicas)
      this.init.log?.(
        `stage ${stage}: no replica of slot ${slot} said within ${Math.round(waitMs / 1000)} s whether its update ` +
          'holds up: it counts unchecked',
      );
    const verdict = verdictOf(counted);
    // Evidence stays within an update's limit: at most EVIDENCE attestations a refused update.
    if (verdict && next)
      this.evidence.set(
        held.cid,
        counted.slice(0, EVIDENCE).map((s) => new Uint8Array(s.bytes)),
      );
    return verdict;
  }

  /**
   * No one comes after the last position to take it over: when its holder is silent past two
   * deadlines, each peer counts it skipped (an update arriving just then can split the peers), and
   * follows the update before it, which handed the token over. An observer has no token state: the
   * others past the stage for a while (their updates of it are announced again, at least every 8 s)
   * means no update of the last position came.
   */
  private watchLast(stage: number): void {
    const last = this.order.length - 1;
    const key = (p: number) => `${stage}/${p}`;
    if (last < 0 || this.decided.get(key(last)) !== undefined) return;
    let skipped: boolean;
    if (this.observing) {
      this.teamPastSince = this.init.teamPast?.(stage) ? (this.teamPastSince ?? Date.now()) : undefined;
      skipped = this.teamPastSince !== undefined && Date.now() - this.teamPastSince > 2 * REPEAT_MS;
    } else {
      skipped = this.token.silence.position === last && this.token.silence.ms > 2 * this.deadlineMs;
    }
    if (!skipped) return;
    const before = [...this.updates].find(([, u]) => u.stage === stage && u.position === last - 1);
    if (last > 0 && this.decided.get(key(last - 1)) === undefined) {
      if (!before) return; // it is on its way: the token left its maker
      this.decideThrough(before[1], before[0]);
    }
    this.decided.set(key(last), null);
  }

  async awaitTurn(stage: number, position: number): Promise<boolean> {
    const key = `${stage}/${position}`;
    // The position decided before the token came here: the peers after it went on without this one.
    const taken = await timed<boolean>(
      this.waitMs,
      `the token for position ${position} of stage ${stage}`,
      (resolve) => {
        this.decided.on(key, () => resolve(false));
        this.mine.on(key, () => resolve(true));
      },
    );
    if (taken) this.init.onTurn?.(stage, position);
    return taken;
  }

  /**
   * The stage refused the update of `position`: this peer's own update will not list it, a later one here that lists
   * it is not followed, and the slot's holder, who made it, is excluded.
   */
  refuseUpdate(stage: number, position: number, why: string): void {
    const held = this.decided.get(`${stage}/${position}`);
    if (held) this.refused.set(held.cid, stage);
    const slot = this.order[position];
    this.excludeMaker(stage, slot, held?.cid, `its update for slot ${slot} in stage ${stage} was refused: ${why}`);
  }

  /**
   * Excludes from the next stage on the maker of `slot`'s update `cid` (its announcer, else the slot's holder), counting
   * it; this peer never excludes itself.
   */
  private excludeMaker(stage: number, slot: number, cid: string | undefined, why: string): void {
    const maker = (cid && this.updateFrom.get(cid)) || this.init.peers(stage).get(slot);
    if (!maker || maker.equals(this.host.peerId)) return;
    bump(this.refusedFrom, maker.toString());
    this.init.exclude?.(maker, why, stage + 1);
  }

  /**
   * What `stage` included, as its peers agree on it (docs/design §4.15): its updates not refused, and its training
   * shards as the first of them names them (a chunk made twice may have come here from another of its makers, §4.17).
   */
  stageContent(stage: number): StageContent {
    const updates = this.updatesBefore(stage, this.order.length);
    const first = updates[0] && this.updates.get(cidFromBytes(updates[0])!.toString());
    return { updates, shards: first?.shards.map((b) => new Uint8Array(b)) ?? this.trainShards(stage) };
  }

  /** The CIDs of the updates of positions before `position` that this peer follows (or, `refused`, refused), in order. */
  private updatesBefore(stage: number, position: number, refused = false): Uint8Array<ArrayBuffer>[] {
    return this.order.slice(0, position).flatMap((_, p) => {
      const held = this.decided.get(`${stage}/${p}`);
      // A position a later update names refused went on without its update, whatever this peer made of it.
      const listed = held && (refused ? this.refused.has(held.cid) : !this.refused.has(held.cid) && !held.refusedBy);
      return listed ? [cidFromString(held.cid)!.bytes as Uint8Array<ArrayBuffer>] : [];
    });
  }

  /** The CIDs of `stage`'s complete training rollouts, each part in order, rollouts by name. */
  private trainShards(stage: number): Uint8Array<ArrayBuffer>[] {
    return [...this.complete]
      .filter(([k]) => k.startsWith(`${stage}/train/`))
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .flatMap(([, cids]) => cids);
  }

  /**
   * The update of `position`, named refused by a later update, holds up here: the stage went on without it all the
   * same, and the later update's maker, who refused it wrongly, is excluded.
   */
  refusalOverruled(stage: number, position: number): void {
    const by = this.decided.get(`${stage}/${position}`)?.refusedBy;
    const later = by && this.updates.get(by);
    if (!later) return;
    this.excludeMaker(
      stage,
      later.slot,
      by,
      `its update for slot ${later.slot} in stage ${stage} names slot ${this.order[position]}'s update refused, ` +
        'and that update holds up',
    );
  }

  async sendUpdate(stage: number, position: number, u: SharedUpdate, tensors?: UpdateTensors): Promise<boolean> {
    // Taken over while it made its update (§4.10): a later position's peer counted this one skipped, as every peer will.
    const takenOver = () => {
      if (!this.token.takenPast(position) && this.decided.get(`${stage}/${position}`) === undefined) return false;
      this.init.log?.(
        `stage ${stage}: a later position's peer took the token over while this peer made its update for position ` +
          `${position}: the team went on without it, and so does this peer`,
      );
      return true;
    };
    if (takenOver()) return false;
    const weights = tensors && (await this.init.offerWeights?.(stage, tensors.params));
    if (takenOver()) return false;
    const after = this.updatesBefore(stage, position);
    const shards = this.trainShards(stage);
    const refused = this.updatesBefore(stage, position, true);
    const made: LogprobUpdate = {
      version: PROTOCOL_VERSION,
      team: this.init.team,
      stage,
      position,
      slot: this.order[position],
      shards,
      logprobs: [...u.logpNew],
      cur: [...u.logpCur],
      record: recordMessage(this.init.team, stage, position, u.record),
      after,
      refused,
      ...(weights ? { weights: weights.bytes, start: tensors!.start } : {}),
      evidence: refused.flatMap((c) => this.evidence.get(cidFromBytes(c)!.toString()) ?? []),
    };
    const update = (await adversaryHooks().update?.(made)) ?? made;
    const cid = await this.publishing(() => this.shards.publishUpdate(update));
    this.updates.set(cid.toString(), update);
    this.decided.set(`${stage}/${position}`, { update, cid: cid.toString() });
    this.sent.set(stage, { position, cid: cid.toString() });
    await this.token.handOff(position, cid);
    return true;
  }

  private onShard(part: TrajectoryShard, cid: CID, from = this.host.peerId): void {
    if (part.stage < this.stage) return;
    if (!this.named.has(cid.toString()) && !this.madeBy(part, from)) {
      this.host.blocks.store.delete(cid); // not served on; fetched again if announced again
      // A claimant of the slot that does not train it here yet (a new identity behind its lapsing predecessor, a
      // replica whose view of the line differs) is not forging: what it sent counts once it trains the slot.
      if (makersOf(part).every((slot) => this.init.claims(slot, from, part.stage))) return;
      const slots = makersOf(part).join(', ');
      bump(this.forged, from.toString());
      return this.init.exclude?.(
        from,
        `it sent turns of slot ${slots} in stage ${part.stage}'s rollout ${part.rollout}, a slot it does not train`,
        part.stage + 1,
      );
    }
    // A chunk of a shared turn waits for another peer of its slot's word (§4.17); one an update named is the team's.
    if (part.chunks > 0 && this.heldChunks && !this.named.has(cid.toString())) {
      this.heldChunks.hold(part, cid, from);
      // A replica of the chunk's slot out of step with its trainer cannot check it: it says so, not to be waited for.
      if (!this.sharesTurns && slotOf(part) === this.init.slot && !from.equals(this.host.peerId))
        void this.init.attestations?.attest({
          stage: part.stage,
          position: 0,
          slot: this.init.slot,
          update: cid.bytes,
          holds: false,
          why: 'this replica is out of step with its trainer: it cannot check the chunk',
          abstains: true,
        });
      return;
    }
    this.takeShard(part, cid, from);
  }

  /** Takes a shard part that holds up: into its rollout, which answers the turns waited for once whole. */
  private takeShard(part: TrajectoryShard, cid: CID, from: PeerId): void {
    const whole = this.parts.add(part, cid, from.toString());
    if (!whole) return;
    const { shard } = whole;
    const turns = Math.min(...shard.trajectories.map((t) => t.turns.length));
    // A shard of k turns answers the wait for any of them (an observer reads a chain's turns from the complete shard).
    for (let k = 1; k <= turns; k++) this.turns.set(turnKey(shard.stage, shard.rollout, k), shard);
    // The first complete version of a rollout counts (a whole one and one in chunks carry the same tokens).
    if (turns === this.init.turnsPerRollout && !this.complete.has(`${shard.stage}/${shard.rollout}`))
      this.complete.set(
        `${shard.stage}/${shard.rollout}`,
        whole.cids.map((c) => c.bytes),
      );
  }

  /**
   * Whether `from` may have made `shard`'s last turns: it trains their slot at the shard's stage (an agent's solo
   * rollout, `alone-<slot>/…`, takes every turn as that slot), or it is this peer.
   */
  private madeBy(shard: TrajectoryShard, from: PeerId): boolean {
    if (from.equals(this.host.peerId)) return true;
    // A shared turn's chunk comes from any peer of its slot's line (§4.17); a whole turn from its trainer.
    const makes = shard.chunks > 0 ? this.init.claims : (this.init.makesTurns ?? this.init.claims);
    return makersOf(shard).every((slot) => makes(slot, from, shard.stage));
  }

  /** An update announced by its maker (one of a later stage waits for it). */
  private onUpdate(update: LogprobUpdate, cid: string, from: PeerId): void {
    if (update.stage < this.stage || this.refused.has(cid)) return;
    this.updates.set(cid, update);
    this.updateFrom.set(cid, from);
    this.arrived.set(`${update.stage}/${update.position}`, { update, cid });
    if (this.observing && update.stage === this.stage) this.fetchMissed(update, from);
    this.settle();
  }

  /**
   * An observer fetches the shards and earlier updates an update names that it has not seen (their makers may be
   * gone); the exchange skips blocks it holds.
   */
  private fetchMissed(u: LogprobUpdate, from: PeerId): void {
    for (const bytes of u.shards) {
      const cid = cidFromBytes(bytes)!;
      this.named.set(cid.toString(), u.stage);
      this.shards.fetchNamed(from, cid, u.stage, BlockKind.SHARD);
    }
    for (const bytes of [...u.after, ...u.refused]) {
      const cid = cidFromBytes(bytes)!;
      if (!this.updates.has(cid.toString())) this.shards.fetchNamed(from, cid, u.stage, BlockKind.UPDATE);
    }
  }

  /**
   * This peer's turn: the positions before it are decided by the pass that handed it over, or by what came here when
   * it was taken over.
   */
  private async onTurn(turn: Turn): Promise<void> {
    if (turn.stage !== this.stage) return;
    const cid = turn.pass?.update && cidFromBytes(turn.pass.update)?.toString();
    if (cid && !this.updates.has(cid)) await this.fetchUpdate(cid, turn.position - 1);
    const before = cid ? this.updates.get(cid) : undefined;
    if (before) this.decideThrough(before, cid!);
    // Taken over: an earlier position not decided yet counts by its update if it came here, else as
    // skipped; this peer's update lists what it counted, and the others follow that.
    for (let p = 0; p < turn.position; p++) {
      const held = [...this.updates].find(
        ([cid, u]) => u.stage === turn.stage && u.position === p && !this.refused.has(cid),
      );
      this.decided.set(`${turn.stage}/${p}`, held ? { update: held[1], cid: held[0] } : null);
    }
    this.mine.set(`${turn.stage}/${turn.position}`, turn);
  }

  /** An update named by a pass but not announced here (yet): fetched from its maker. */
  private async fetchUpdate(cid: string, position: number): Promise<void> {
    const peer = this.init.peers(this.stage).get(this.order[position]);
    if (!peer) return;
    try {
      const bytes = await this.host.blocks.fetch(peer, cidFromString(cid)!, { maxBytes: MAX_BYTES.LogprobUpdate });
      const d = decodeLogprobUpdate(bytes, { team: this.init.team, slots: this.init.slots, stage: this.stage });
      if (d.ok) this.updates.set(cid, d.message);
    } catch {
      // its maker is gone: the position counts as skipped
    }
  }

  /** Follows what the updates here decide: each decides the positions before it, the last one itself too. */
  private settle(): void {
    if (this.order.length === 0) return;
    for (const [cid, u] of this.updates) {
      if (u.stage !== this.stage || this.refused.has(cid)) continue;
      if (u.position === this.order.length - 1) this.decideThrough(u, cid);
      else this.decideBefore(u, cid);
    }
  }

  private decideThrough(u: LogprobUpdate, cid: string): void {
    this.decideBefore(u, cid);
    this.decided.set(`${u.stage}/${u.position}`, { update: u, cid });
  }

  /**
   * The positions before `u` as its `after` and `refused` say: the listed ones by their update (a refused one marked so,
   * for this peer to check it too), the rest skipped (once every listed one is here).
   */
  private decideBefore(u: LogprobUpdate, ucid: string): void {
    const listed = new Map<number, Held>();
    for (const [bytes, refusedLater] of [
      ...u.after.map((b) => [b, false] as const),
      ...u.refused.map((b) => [b, true] as const),
    ]) {
      const cid = cidFromBytes(bytes)!.toString();
      const prior = this.updates.get(cid);
      if (!prior || (!refusedLater && this.refused.has(cid))) return;
      listed.set(prior.position, { update: prior, cid, ...(refusedLater ? { refusedBy: ucid } : {}) });
    }
    for (let p = 0; p < u.position; p++) this.decided.set(`${u.stage}/${p}`, listed.get(p) ?? null);
  }

  private async publishing(publish: () => Promise<CID>): Promise<CID> {
    for (let i = 1; ; i++) {
      try {
        return await publish();
      } catch (err) {
        if (
          i >= PUBLISH_TRIES ||
          !/NoPeersSubscribedToTopic/i.test(String((err as Error).name) + String((err as Error).message))
        )
          throw err;
        await sleep(200);
      }
    }
  }
}

/** How long keepalives hold a position: MAX_HOLD_DEADLINES deadlines, at most half the link's wait. */
export const maxHold = (deadlineMs: number, waitMs = WAIT_MS): number =>
  Math.min(MAX_HOLD_DEADLINES * deadlineMs, waitMs / 2);

const turnKey = (stage: number, rollout: string, turns: number) => `${stage}/${rollout}#${turns}`;

/** The slots whose peers made a shard's last turns. */
function makersOf(shard: TrajectoryShard): number[] {
  const solo = /^alone-(\d+)\//.exec(shard.rollout);
  return solo ? [Number(solo[1])] : [...new Set(shard.trajectories.map((t) => t.turns.at(-1)!.slot))];
}

/** Whether a shard's trajectory begins as this peer's transcript: the same prompt and the same first `turns` turns. */
function sameStart(t: TrajectoryShard['trajectories'][number], mine: ChainTranscript, turns: number): boolean {
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return (
    t.turns.length > turns &&
    same(t.ids, mine.promptIds) &&
    mine.turns.slice(0, turns).every((u, k) => u.slot === t.turns[k].slot && same(u.ids, t.turns[k].ids))
  );
}

function recordMessage(team: string, stage: number, position: number, r: AgentStageRecord): RecordMessage {
  return {
    version: PROTOCOL_VERSION,
    team,
    stage,
    slot: r.slot,
    position,
    accepted: r.accepted,
    delta: r.delta,
    n: r.n,
    zeta: r.zeta,
    gain: r.gain,
    kl: r.klQuantile,
    beta: r.beta,
    backtracks: r.backtracks,
    step: r.step,
    reward: r.reward,
    gap: r.gap,
    ...(r.stage0 ? { stage0: r.stage0 } : {}),
  };
}

/** A remote agent's update as the stage reads it: its log-probs cut per transcript it spoke in, and its record. */
function sharedUpdate(u: LogprobUpdate, names: readonly string[]): SharedUpdate {
  const r = u.record!;
  const record: AgentStageRecord = {
    slot: r.slot,
    name: names[r.slot],
    accepted: r.accepted,
    backtracks: r.backtracks,
    step: r.step,
    beta: r.beta,
    klQuantile: r.kl,
    gain: r.gain,
    reward: r.reward,
    delta: r.delta,
    n: r.n,
    zeta: r.zeta,
    gap: r.gap,
    ...(r.stage0 ? { stage0: r.stage0 } : {}),
  };
  return { logpCur: Float32Array.from(u.cur), logpNew: Float32Array.from(u.logprobs), record };
}
