// The only code that turns bytes into team messages (DESIGN.md §4). Each decodeX checks the kind's
// size limit before decoding, caps every list while decoding, validates every field afterwards and,
// given a context, that the message is for this team, stage and roster. It never throws: a bad
// message comes back as `{ ok: false, reason }`, so a handler can drop it and count it against its
// sender. Each encodeX validates the same way and throws a MessageError on bad local input.
//
// Bytes fields of a decoded message are views into the input: do not reuse the input buffer.
import { MaxLengthError } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
import * as Digest from 'multiformats/hashes/digest';
import { cidFromBytes, cidFromString, contentId } from './cid.ts';
import { MessageError } from './errors.ts';
import { Admission, Announce, BlockKind, Heartbeat, LogprobUpdate, SlotClaim, StageRecord, TeamManifest, TokenAck, TokenPass, TrajectoryShard, Workflow } from './messages.ts';

export { Admission, Announce, BlockKind, Heartbeat, LogprobUpdate, SlotClaim, StageRecord, TeamManifest, TokenAck, TokenPass, TrajectoryShard, Workflow };
export type { Dataset, Slot, Trajectory, Turn } from './messages.ts';

/** The `version` every message carries. */
export const PROTOCOL_VERSION = 1;

const KiB = 1024;
const MiB = 1024 * KiB;

/** Hard limits on the encoded size of each kind, checked before decoding. */
export const MAX_BYTES = {
  TeamManifest: 256 * KiB,
  Heartbeat: 64 * KiB,
  SlotClaim: 64 * KiB,
  TrajectoryShard: 4 * MiB,
  LogprobUpdate: 16 * MiB,
  StageRecord: 64 * KiB,
  TokenPass: 64 * KiB,
  TokenAck: 64 * KiB,
  Announce: 64 * KiB,
} as const;
export type MessageKind = keyof typeof MAX_BYTES;

/** Caps on lists (enforced while decoding) and on fields. */
export const LIMITS = {
  /** Slots of a team; also bounds every slot and order position. */
  slots: 64,
  /** Peer ids of an allowlist. */
  allow: 1024,
  trajectories: 4096,
  turns: 256,
  /** Token ids (and log-probs) of one prompt or turn. */
  tokens: 131_072,
  /** Log-probs of one LogprobUpdate. */
  updateTokens: 1_048_576,
  shards: 1024,
  /** Token ids are below this (they must fit int32 tensors). */
  tokenId: 2 ** 31,
  backtracks: 1000,
  /** Characters of a name, role, family or model. */
  text: 256,
  uri: 2048,
  /** Characters of the manifest's JSON algorithm config. */
  config: 32 * KiB,
  /** Characters of a team id (a CID string). */
  team: 128,
  peerId: 128,
  /** Bytes of an announced block (a shard or update; /sat/blocks/1 serves up to this). */
  block: 64 * MiB,
  /** Bytes of a tokenizer hash (sha-256). */
  hash: 32,
} as const;

/** Why a message was rejected; stable strings that tests and peer scoring can rely on. */
export type Reason =
  | 'too-large' // the input is over the kind's size limit (not decoded)
  | 'malformed' // not decodable: truncated, bad wire type, unknown enum value, text that is not UTF-8
  | 'bad-version' // version !== PROTOCOL_VERSION
  | 'missing' // a required field is absent or empty
  | 'too-long' // a list, string or bytes field is over its cap
  | 'out-of-range' // an integer or float outside its domain, a slot or position beyond the roster
  | 'non-finite' // NaN or an infinity
  | 'length-mismatch' // token ids and their log-probs differ in length
  | 'bad-cid' // a team id or content reference that is not a CIDv1 raw sha2-256
  | 'bad-peer-id' // an allowlist entry that is not a peer id multihash
  | 'bad-config' // the manifest's config is not a JSON object
  | 'inconsistent' // fields that contradict each other
  | 'duplicate' // the same entry twice in a list
  | 'wrong-team' // for another team than the context's
  | 'stale-stage'; // for a stage older than the context's

export type Decoded<T> = { ok: true; message: T } | { ok: false; reason: Reason; field: string };

/** What a receiver knows: its team id, its current stage, the number of slots of its team. */
export interface DecodeContext {
  team?: string;
  stage?: number;
  slots?: number;
}

/** A failed check inside a validator (not an Error: throwing it costs no stack trace). */
class Reject {
  constructor(readonly reason: Reason, readonly field: string) {}
}

function need(ok: boolean, reason: Reason, field: string): void {
  if (!ok) throw new Reject(reason, field);
}

// Field checks.
const uint = (x: number, field: string, below = 2 ** 32) => need(Number.isInteger(x) && x >= 0 && x < below, 'out-of-range', field);

function text(s: string, field: string, max: number = LIMITS.text, required = true): void {
  need(typeof s === 'string' && (s.length > 0 || !required), 'missing', field);
  need(s.length <= max, 'too-long', field);
  need(s.isWellFormed(), 'malformed', field); // the decoder turns some bad UTF-8 into lone surrogates
}

function real(x: number, field: string, min = -Infinity): void {
  need(Number.isFinite(x), 'non-finite', field);
  need(x >= min, 'out-of-range', field);
}

function list(xs: readonly unknown[], field: string, max: number, min = 0): void {
  need(Array.isArray(xs) && xs.length >= min, 'missing', field);
  need(xs.length <= max, 'too-long', field);
}

const team = (s: string) => {
  text(s, 'team', LIMITS.team);
  need(cidFromString(s) !== undefined, 'bad-cid', 'team');
};

const time = (t: number) => {
  need(t !== 0, 'missing', 'time');
  need(Number.isSafeInteger(t) && t > 0, 'out-of-range', 'time');
};

function hash(b: Uint8Array | undefined, field: string): void {
  need(b !== undefined && b.byteLength > 0, 'missing', field);
  need(b!.byteLength === LIMITS.hash, 'out-of-range', field);
}

function cidBytes(b: Uint8Array | undefined, field: string): void {
  need(b !== undefined && b.byteLength > 0, 'missing', field);
  need(cidFromBytes(b!) !== undefined, 'bad-cid', field);
}

function tokenIds(ids: readonly number[], field: string): void {
  list(ids, field, LIMITS.tokens, 1);
  const bad = ids.findIndex((x) => !(Number.isInteger(x) && x >= 0 && x < LIMITS.tokenId));
  need(bad < 0, 'out-of-range', `${field}[${bad}]`);
}

/** How far above 0 a log-prob may lie: one computed outside a log-softmax (a Stage-0 projection) can round a little over. */
const LOGPROB_SLACK = 1e-5;

/** Log-probs: finite as float32 (what the wire carries) and <= 0, up to rounding. */
function logprobs(xs: readonly number[], field: string): void {
  const bad = xs.findIndex((x) => !(Math.fround(x) <= LOGPROB_SLACK && Number.isFinite(Math.fround(x))));
  need(bad < 0, Number.isNaN(xs[bad]) || Math.abs(Math.fround(xs[bad])) === Infinity ? 'non-finite' : 'out-of-range', `${field}[${bad}]`);
}

function distinct(xs: readonly Uint8Array[], field: string): void {
  const seen = new Set(xs.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex')));
  need(seen.size === xs.length, 'duplicate', field);
}

function isPeerId(b: Uint8Array): boolean {
  try {
    const d = Digest.decode(b);
    return d.code === 0x00 || d.code === 0x12; // identity (inlined public key) or sha2-256
  } catch {
    return false;
  }
}

function header(m: { version: number; team: string }): void {
  need(m.version === PROTOCOL_VERSION, 'bad-version', 'version');
  team(m.team);
}

// Validators, one per kind.

function checkManifest(m: TeamManifest): void {
  need(m.version === PROTOCOL_VERSION, 'bad-version', 'version');
  text(m.name, 'name');
  list(m.slots, 'slots', LIMITS.slots, 1);
  m.slots.forEach((s, i) => {
    text(s.role, `slots[${i}].role`);
    text(s.family, `slots[${i}].family`);
    hash(s.tokenizer, `slots[${i}].tokenizer`);
  });
  need(Object.values(Workflow).includes(m.workflow), 'out-of-range', 'workflow');
  text(m.config, 'config', LIMITS.config);
  need(isJsonObject(m.config), 'bad-config', 'config');
  need(m.dataset !== undefined, 'missing', 'dataset');
  text(m.dataset!.name, 'dataset.name');
  cidBytes(m.dataset!.cid, 'dataset.cid');
  text(m.dataset!.uri, 'dataset.uri', LIMITS.uri, false);
  need(Object.values(Admission).includes(m.admission), 'out-of-range', 'admission');
  list(m.allow, 'allow', LIMITS.allow, m.admission === Admission.ALLOWLIST ? 1 : 0);
  need(m.admission === Admission.ALLOWLIST || m.allow.length === 0, 'inconsistent', 'allow');
  m.allow.forEach((p, i) => {
    need(p.byteLength <= LIMITS.peerId, 'too-long', `allow[${i}]`);
    need(isPeerId(p), 'bad-peer-id', `allow[${i}]`);
  });
  distinct(m.allow, 'allow');
}

function isJsonObject(s: string): boolean {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

function checkHeartbeat(m: Heartbeat): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.slot, 'slot', LIMITS.slots);
  text(m.model, 'model');
  time(m.time);
}

function checkClaim(m: SlotClaim): void {
  header(m);
  uint(m.slot, 'slot', LIMITS.slots);
  text(m.family, 'family');
  hash(m.tokenizer, 'tokenizer');
  need(typeof m.upgrade === 'boolean', 'missing', 'upgrade');
  uint(m.from, 'from');
  time(m.time);
}

function checkShard(m: TrajectoryShard): void {
  header(m);
  uint(m.stage, 'stage');
  text(m.rollout, 'rollout');
  list(m.trajectories, 'trajectories', LIMITS.trajectories, 1);
  m.trajectories.forEach((t, r) => {
    const at = `trajectories[${r}]`;
    uint(t.prompt, `${at}.prompt`);
    uint(t.group, `${at}.group`);
    tokenIds(t.ids, `${at}.ids`);
    list(t.turns, `${at}.turns`, LIMITS.turns, 1);
    t.turns.forEach((u, k) => {
      uint(u.slot, `${at}.turns[${k}].slot`, LIMITS.slots);
      tokenIds(u.ids, `${at}.turns[${k}].ids`);
      need(u.logprobs.length === u.ids.length, 'length-mismatch', `${at}.turns[${k}].logprobs`);
      logprobs(u.logprobs, `${at}.turns[${k}].logprobs`);
    });
    real(t.reward, `${at}.reward`);
  });
}

function checkUpdate(m: LogprobUpdate): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.position, 'position', LIMITS.slots);
  uint(m.slot, 'slot', LIMITS.slots);
  list(m.shards, 'shards', LIMITS.shards, 1);
  m.shards.forEach((c, i) => cidBytes(c, `shards[${i}]`));
  distinct(m.shards, 'shards');
  list(m.after, 'after', LIMITS.slots);
  m.after.forEach((c, i) => cidBytes(c, `after[${i}]`));
  distinct(m.after, 'after');
  need(m.after.length <= m.position, 'inconsistent', 'after');
  list(m.logprobs, 'logprobs', LIMITS.updateTokens);
  logprobs(m.logprobs, 'logprobs');
  need(m.cur.length === m.logprobs.length, 'length-mismatch', 'cur');
  logprobs(m.cur, 'cur');
  need(m.record !== undefined, 'missing', 'record');
  checkRecord(m.record!);
  const r = m.record!;
  need(r.team === m.team && r.stage === m.stage && r.slot === m.slot && r.position === m.position, 'inconsistent', 'record');
}

function checkRecord(m: StageRecord): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.slot, 'slot', LIMITS.slots);
  uint(m.position, 'position', LIMITS.slots);
  need(typeof m.accepted === 'boolean', 'missing', 'accepted');
  real(m.delta, 'delta', 0);
  uint(m.n, 'n');
  real(m.zeta, 'zeta', 0);
  real(m.gain, 'gain');
  real(m.kl, 'kl', 0);
  real(m.beta, 'beta', 0);
  uint(m.backtracks, 'backtracks', LIMITS.backtracks + 1);
  real(m.reward, 'reward');
  real(m.gap, 'gap', 0);
  if (m.stage0) {
    const s = m.stage0;
    for (const k of ['deltaFrom', 'delta', 'deltaMax'] as const) real(s[k], `stage0.${k}`, 0);
    need(typeof s.released === 'boolean', 'missing', 'stage0.released');
  }
}

function checkPass(m: TokenPass): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.position, 'position', LIMITS.slots);
  uint(m.from, 'from', LIMITS.slots);
  uint(m.to, 'to', LIMITS.slots);
  need(m.from !== m.to, 'inconsistent', 'to');
  if (m.update !== undefined && m.update.byteLength > 0) cidBytes(m.update, 'update');
  time(m.time);
}

function checkAck(m: TokenAck): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.position, 'position', LIMITS.slots);
  uint(m.slot, 'slot', LIMITS.slots);
}

function checkAnnounce(m: Announce): void {
  header(m);
  uint(m.stage, 'stage');
  need(Object.values(BlockKind).includes(m.kind), 'out-of-range', 'kind');
  cidBytes(m.cid, 'cid');
  uint(m.turns, 'turns', LIMITS.turns + 1);
  need(m.kind === BlockKind.SHARD ? m.turns > 0 : m.turns === 0, 'inconsistent', 'turns');
  text(m.rollout, 'rollout', LIMITS.text, m.kind === BlockKind.SHARD);
  need(m.kind === BlockKind.SHARD || m.rollout === '', 'inconsistent', 'rollout');
  uint(m.size, 'size', LIMITS.block + 1);
  need(m.size > 0, 'missing', 'size');
}

/** The context checks: this team, not an older stage (`field` names it), slots and positions within the roster. */
function inContext(ctx: DecodeContext, m: { team: string }, stage: [string, number], slots: Record<string, number>): void {
  need(ctx.team === undefined || m.team === ctx.team, 'wrong-team', 'team');
  need(ctx.stage === undefined || stage[1] >= ctx.stage, 'stale-stage', stage[0]);
  if (ctx.slots !== undefined) for (const [field, s] of Object.entries(slots)) need(s < ctx.slots, 'out-of-range', field);
}

interface Kind<T> {
  name: MessageKind;
  codec: { encode(m: T): Uint8Array; decode(b: Uint8Array | Uint8ArrayList, opts?: { limits?: object }): T };
  limits?: object;
  check(m: T): void;
  context(m: T, ctx: DecodeContext, bytes: Uint8Array | Uint8ArrayList): void;
}

function decodeAs<T>(kind: Kind<T>, bytes: Uint8Array | Uint8ArrayList, ctx?: DecodeContext): Decoded<T> {
  if (bytes.byteLength > MAX_BYTES[kind.name]) return { ok: false, reason: 'too-large', field: '' };
  let message: T;
  try {
    message = kind.codec.decode(bytes, kind.limits ? { limits: kind.limits } : undefined);
  } catch (e) {
    return { ok: false, reason: e instanceof MaxLengthError ? 'too-long' : 'malformed', field: '' };
  }
  try {
    kind.check(message);
    if (ctx) kind.context(message, ctx, bytes);
  } catch (e) {
    return e instanceof Reject ? { ok: false, reason: e.reason, field: e.field } : { ok: false, reason: 'malformed', field: '' };
  }
  return { ok: true, message };
}

function encodeAs<T>(kind: Kind<T>, m: T): Uint8Array {
  try {
    kind.check(m);
  } catch (e) {
    if (e instanceof Reject) throw new MessageError(e.reason, `invalid ${kind.name}: ${e.field} is ${e.reason}`);
    throw e;
  }
  const bytes = kind.codec.encode(m);
  if (bytes.byteLength > MAX_BYTES[kind.name]) throw new MessageError('too-large', `${kind.name} of ${bytes.byteLength} bytes is over its limit of ${MAX_BYTES[kind.name]}`);
  return bytes;
}

const MANIFEST: Kind<TeamManifest> = {
  name: 'TeamManifest', codec: TeamManifest, limits: { slots: LIMITS.slots, allow: LIMITS.allow }, check: checkManifest,
  context: (_, ctx, bytes) => need(ctx.team === undefined || contentId(bytes.subarray()).toString() === ctx.team, 'wrong-team', 'team'),
};
const HEARTBEAT: Kind<Heartbeat> = { name: 'Heartbeat', codec: Heartbeat, check: checkHeartbeat, context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { slot: m.slot }) };
const CLAIM: Kind<SlotClaim> = { name: 'SlotClaim', codec: SlotClaim, check: checkClaim, context: (m, ctx) => inContext(ctx, m, ['from', m.from], { slot: m.slot }) };
const SHARD: Kind<TrajectoryShard> = {
  name: 'TrajectoryShard', codec: TrajectoryShard, check: checkShard,
  limits: { trajectories: LIMITS.trajectories, trajectories$: { ids: LIMITS.tokens, turns: LIMITS.turns, turns$: { ids: LIMITS.tokens, logprobs: LIMITS.tokens } } },
  context: (m, ctx) => {
    inContext(ctx, m, ['stage', m.stage], {});
    m.trajectories.forEach((t, r) => t.turns.forEach((u, k) => need(ctx.slots === undefined || u.slot < ctx.slots, 'out-of-range', `trajectories[${r}].turns[${k}].slot`)));
  },
};
const UPDATE: Kind<LogprobUpdate> = {
  name: 'LogprobUpdate', codec: LogprobUpdate, check: checkUpdate, limits: { shards: LIMITS.shards, logprobs: LIMITS.updateTokens, cur: LIMITS.updateTokens, after: LIMITS.slots },
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { position: m.position, slot: m.slot }),
};
const RECORD: Kind<StageRecord> = { name: 'StageRecord', codec: StageRecord, check: checkRecord, context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { slot: m.slot, position: m.position }) };
const PASS: Kind<TokenPass> = { name: 'TokenPass', codec: TokenPass, check: checkPass, context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { position: m.position, from: m.from, to: m.to }) };
const ACK: Kind<TokenAck> = { name: 'TokenAck', codec: TokenAck, check: checkAck, context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { position: m.position, slot: m.slot }) };

const ANNOUNCE: Kind<Announce> = { name: 'Announce', codec: Announce, check: checkAnnounce, context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], {}) };

type Bytes = Uint8Array | Uint8ArrayList;

export const decodeTeamManifest = (b: Bytes, ctx?: DecodeContext) => decodeAs(MANIFEST, b, ctx);
export const decodeHeartbeat = (b: Bytes, ctx?: DecodeContext) => decodeAs(HEARTBEAT, b, ctx);
export const decodeSlotClaim = (b: Bytes, ctx?: DecodeContext) => decodeAs(CLAIM, b, ctx);
export const decodeTrajectoryShard = (b: Bytes, ctx?: DecodeContext) => decodeAs(SHARD, b, ctx);
export const decodeLogprobUpdate = (b: Bytes, ctx?: DecodeContext) => decodeAs(UPDATE, b, ctx);
export const decodeStageRecord = (b: Bytes, ctx?: DecodeContext) => decodeAs(RECORD, b, ctx);
export const decodeTokenPass = (b: Bytes, ctx?: DecodeContext) => decodeAs(PASS, b, ctx);
export const decodeTokenAck = (b: Bytes, ctx?: DecodeContext) => decodeAs(ACK, b, ctx);
export const decodeAnnounce = (b: Bytes, ctx?: DecodeContext) => decodeAs(ANNOUNCE, b, ctx);

export const encodeTeamManifest = (m: TeamManifest) => encodeAs(MANIFEST, m);
export const encodeHeartbeat = (m: Heartbeat) => encodeAs(HEARTBEAT, m);
export const encodeSlotClaim = (m: SlotClaim) => encodeAs(CLAIM, m);
export const encodeTrajectoryShard = (m: TrajectoryShard) => encodeAs(SHARD, m);
export const encodeLogprobUpdate = (m: LogprobUpdate) => encodeAs(UPDATE, m);
export const encodeStageRecord = (m: StageRecord) => encodeAs(RECORD, m);
export const encodeTokenPass = (m: TokenPass) => encodeAs(PASS, m);
export const encodeTokenAck = (m: TokenAck) => encodeAs(ACK, m);
export const encodeAnnounce = (m: Announce) => encodeAs(ANNOUNCE, m);

/** The team id: the CID string of the encoded manifest. */
export const teamId = (m: TeamManifest): string => contentId(encodeTeamManifest(m)).toString();

/**
 * How many log-probs a LogprobUpdate of `slot` over `shards` (in its order) carries: the tokens of
 * every turn the slot spoke, in the order the update flattens them.
 */
export function ownTokenCount(shards: readonly TrajectoryShard[], slot: number): number {
  let n = 0;
  for (const s of shards) for (const t of s.trajectories) for (const u of t.turns) if (u.slot === slot) n += u.ids.length;
  return n;
}
