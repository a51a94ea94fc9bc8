// The validators of team messages (docs/design §4.3), one per kind, and the context checks: each throws a
// `Reject` naming the first field that is wrong and why. Only codec.ts calls them.
import * as Digest from 'multiformats/hashes/digest';
import { cidFromBytes, cidFromString } from './cid.ts';
import { LIMITS, MAX_BYTES, PROTOCOL_VERSION } from './limits.ts';
import {
  Admission,
  type Announce,
  type Attestation,
  BlockKind,
  type Heartbeat,
  type LogprobUpdate,
  type SlotClaim,
  type SlotState,
  type StageRecord,
  type TeamManifest,
  type TokenAck,
  type TokenPass,
  type TrajectoryShard,
  Workflow,
} from './messages.generated.ts';

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

/** What a receiver knows: its team id, its current stage, the number of slots of its team. */
export interface DecodeContext {
  team?: string;
  stage?: number;
  slots?: number;
}

/** A failed check inside a validator (not an Error: throwing it costs no stack trace). */
export class Reject {
  constructor(
    readonly reason: Reason,
    readonly field: string,
  ) {}
}

export function need(ok: boolean, reason: Reason, field: string): void {
  if (!ok) throw new Reject(reason, field);
}

// Field checks.
const uint = (x: number, field: string, below = 2 ** 32) =>
  need(Number.isInteger(x) && x >= 0 && x < below, 'out-of-range', field);

function text(s: string, field: string, max: number = LIMITS.text, required = true): void {
  need(typeof s === 'string' && (s.length > 0 || !required), 'missing', field);
  need(s.length <= max, 'too-long', field);
  need(s.isWellFormed(), 'malformed', field); // a lone surrogate has no UTF-8 form (decoding refuses bad UTF-8)
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

/**
 * How far above 0 a log-prob may lie: one computed outside a log-softmax (a Stage-0 projection) can round a little
 * over.
 */
const LOGPROB_SLACK = 1e-5;

/** Log-probs: finite as float32 (what the wire carries) and <= 0, up to rounding. */
function logprobs(xs: readonly number[], field: string): void {
  const bad = xs.findIndex((x) => !(Math.fround(x) <= LOGPROB_SLACK && Number.isFinite(Math.fround(x))));
  need(
    bad < 0,
    Number.isNaN(xs[bad]) || Math.abs(Math.fround(xs[bad])) === Infinity ? 'non-finite' : 'out-of-range',
    `${field}[${bad}]`,
  );
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

export function checkManifest(m: TeamManifest): void {
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
  for (const [field, d] of [
    ['dataset', m.dataset],
    ['test', m.test],
  ] as const) {
    if (!d) continue;
    text(d.name, `${field}.name`);
    cidBytes(d.cid, `${field}.cid`);
    text(d.uri, `${field}.uri`, LIMITS.uri, false);
  }
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

export function checkHeartbeat(m: Heartbeat): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.slot, 'slot', LIMITS.slots);
  text(m.model, 'model');
  time(m.time);
  uint(m.digestStage, 'digest_stage');
  need(m.digestStage <= m.stage, 'inconsistent', 'digest_stage');
  need(m.digest.byteLength === (m.digestStage ? LIMITS.hash : 0), 'inconsistent', 'digest');
}

export function checkClaim(m: SlotClaim): void {
  header(m);
  uint(m.slot, 'slot', LIMITS.slots);
  text(m.family, 'family');
  hash(m.tokenizer, 'tokenizer');
  need(typeof m.upgrade === 'boolean', 'missing', 'upgrade');
  uint(m.from, 'from');
  time(m.time);
}

export function checkSlotState(m: SlotState): void {
  header(m);
  uint(m.slot, 'slot', LIMITS.slots);
  uint(m.stage, 'stage');
  need(m.stage > 0, 'out-of-range', 'stage');
  cidBytes(m.manifest, 'manifest');
  need(Number.isSafeInteger(m.bytes) && m.bytes > 0, 'out-of-range', 'bytes');
}

export function checkShard(m: TrajectoryShard): void {
  header(m);
  uint(m.stage, 'stage');
  text(m.rollout, 'rollout');
  need(m.parts > 0, 'missing', 'parts');
  uint(m.parts, 'parts', LIMITS.shards + 1);
  need(m.part < m.parts, 'inconsistent', 'part');
  uint(m.chunks, 'chunks', LIMITS.shards + 1);
  need(m.chunks === 0 ? m.chunk === 0 : m.chunk < m.chunks, 'inconsistent', 'chunk');
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

export function checkUpdate(m: LogprobUpdate): void {
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
  list(m.refused, 'refused', LIMITS.slots);
  m.refused.forEach((c, i) => cidBytes(c, `refused[${i}]`));
  distinct([...m.after, ...m.refused], 'refused');
  need(m.after.length + m.refused.length <= m.position, 'inconsistent', 'refused');
  if (m.weights?.length) cidBytes(m.weights, 'weights');
  if (m.start?.length || m.weights?.length) hash(m.start, 'start');
  list(m.evidence, 'evidence', LIMITS.slots);
  m.evidence.forEach((e, i) => need(e.byteLength <= MAX_BYTES.Attestation, 'too-long', `evidence[${i}]`));
  need(m.evidence.length === 0 || m.refused.length > 0, 'inconsistent', 'evidence');
  list(m.logprobs, 'logprobs', LIMITS.updateTokens);
  logprobs(m.logprobs, 'logprobs');
  need(m.cur.length === m.logprobs.length, 'length-mismatch', 'cur');
  logprobs(m.cur, 'cur');
  need(m.record !== undefined, 'missing', 'record');
  checkRecord(m.record!);
  const r = m.record!;
  need(
    r.team === m.team && r.stage === m.stage && r.slot === m.slot && r.position === m.position,
    'inconsistent',
    'record',
  );
}

export function checkAttestation(m: Attestation): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.position, 'position', LIMITS.slots);
  uint(m.slot, 'slot', LIMITS.slots);
  cidBytes(m.update, 'update');
  need(typeof m.holds === 'boolean', 'missing', 'holds');
  need(!(m.abstains && m.holds), 'inconsistent', 'abstains');
  text(m.why, 'why', LIMITS.why, !m.holds);
  need(m.peer !== undefined && m.peer.byteLength <= LIMITS.peerId && isPeerId(m.peer), 'bad-peer-id', 'peer');
  need(
    m.signature !== undefined && m.signature.byteLength > 0 && m.signature.byteLength <= 1024,
    'missing',
    'signature',
  );
}

export function checkRecord(m: StageRecord): void {
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
  real(m.step, 'step', 0);
  real(m.reward, 'reward');
  real(m.gap, 'gap', 0);
  if (m.stage0) {
    const s = m.stage0;
    for (const k of ['deltaFrom', 'delta', 'deltaMax'] as const) real(s[k], `stage0.${k}`, 0);
    need(typeof s.released === 'boolean', 'missing', 'stage0.released');
  }
}

export function checkPass(m: TokenPass): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.position, 'position', LIMITS.slots);
  uint(m.from, 'from', LIMITS.slots);
  uint(m.to, 'to', LIMITS.slots);
  need(m.from !== m.to, 'inconsistent', 'to');
  if (m.update !== undefined && m.update.byteLength > 0) cidBytes(m.update, 'update');
  time(m.time);
}

export function checkAck(m: TokenAck): void {
  header(m);
  uint(m.stage, 'stage');
  uint(m.position, 'position', LIMITS.slots);
  uint(m.slot, 'slot', LIMITS.slots);
}

export function checkAnnounce(m: Announce): void {
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
export function inContext(
  ctx: DecodeContext,
  m: { team: string },
  stage: [string, number],
  slots: Record<string, number>,
): void {
  need(ctx.team === undefined || m.team === ctx.team, 'wrong-team', 'team');
  need(ctx.stage === undefined || stage[1] >= ctx.stage, 'stale-stage', stage[0]);
  if (ctx.slots !== undefined)
    for (const [field, s] of Object.entries(slots)) need(s < ctx.slots, 'out-of-range', field);
}
