// The only code that turns bytes into team messages (docs/design §4.3). Each decodeX checks the kind's
// size limit before decoding, caps every list while decoding, validates every field afterwards and,
// given a context, that the message is for this team, stage and roster. It never throws: a bad
// message comes back as `{ ok: false, reason }`, so a handler can drop it and count it against its
// sender. Each encodeX validates the same way and throws a MessageError on bad local input.
//
// Bytes fields of a decoded message are views into the input: do not reuse the input buffer.
import { type Codec, MaxLengthError, type Reader, reader } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
import { contentId } from './cid.ts';
import { MessageError } from './errors.ts';
import { LIMITS, MAX_BYTES, type MessageKind } from './limits.ts';
import {
  Admission,
  Announce,
  Attestation,
  BlockKind,
  Heartbeat,
  LogprobUpdate,
  SlotClaim,
  SlotState,
  StageRecord,
  TeamManifest,
  TokenAck,
  TokenPass,
  TrajectoryShard,
  Workflow,
} from './messages.generated.ts';
import {
  type DecodeContext,
  type Reason,
  Reject,
  checkAck,
  checkAnnounce,
  checkAttestation,
  checkClaim,
  checkHeartbeat,
  checkManifest,
  checkPass,
  checkRecord,
  checkShard,
  checkSlotState,
  checkUpdate,
  inContext,
  need,
} from './validate.ts';

export {
  Admission,
  Announce,
  Attestation,
  BlockKind,
  Heartbeat,
  LogprobUpdate,
  SlotClaim,
  SlotState,
  StageRecord,
  TeamManifest,
  TokenAck,
  TokenPass,
  TrajectoryShard,
  Workflow,
};
export type { Dataset, Slot, Trajectory, Turn } from './messages.generated.ts';
export { LIMITS, MAX_BYTES, type MessageKind, PROTOCOL_VERSION } from './limits.ts';
export type { DecodeContext, Reason } from './validate.ts';

export type Decoded<T> = { ok: true; message: T } | { ok: false; reason: Reason; field: string };

interface Kind<T> {
  name: MessageKind;
  codec: { encode(m: T): Uint8Array; codec(): Codec<T> };
  limits?: object;
  check(m: T): void;
  context(m: T, ctx: DecodeContext, bytes: Uint8Array | Uint8ArrayList): void;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A protobuf reader whose strings must be valid UTF-8, as proto3 requires: protons' own reader turns any bytes into
 * some string, so an overlong `/` or a lone continuation byte would pass as text.
 */
function strictReader(bytes: Uint8Array | Uint8ArrayList): Reader {
  const r = reader(bytes);
  r.string = () => UTF8.decode(r.bytes());
  return r;
}

function decodeAs<T>(kind: Kind<T>, bytes: Uint8Array | Uint8ArrayList, ctx?: DecodeContext): Decoded<T> {
  if (bytes.byteLength > MAX_BYTES[kind.name]) return { ok: false, reason: 'too-large', field: '' };
  let message: T;
  try {
    message = kind.codec
      .codec()
      .decode(strictReader(bytes), undefined, kind.limits ? { limits: kind.limits } : undefined);
  } catch (e) {
    return { ok: false, reason: e instanceof MaxLengthError ? 'too-long' : 'malformed', field: '' };
  }
  try {
    kind.check(message);
    if (ctx) kind.context(message, ctx, bytes);
  } catch (e) {
    return e instanceof Reject
      ? { ok: false, reason: e.reason, field: e.field }
      : { ok: false, reason: 'malformed', field: '' };
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
  if (bytes.byteLength > MAX_BYTES[kind.name])
    throw new MessageError(
      'too-large',
      `${kind.name} of ${bytes.byteLength} bytes is over its limit of ${MAX_BYTES[kind.name]}`,
    );
  return bytes;
}

const MANIFEST: Kind<TeamManifest> = {
  name: 'TeamManifest',
  codec: TeamManifest,
  limits: { slots: LIMITS.slots, allow: LIMITS.allow },
  check: checkManifest,
  context: (_, ctx, bytes) =>
    need(ctx.team === undefined || contentId(bytes.subarray()).toString() === ctx.team, 'wrong-team', 'team'),
};
const HEARTBEAT: Kind<Heartbeat> = {
  name: 'Heartbeat',
  codec: Heartbeat,
  check: checkHeartbeat,
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { slot: m.slot }),
};
const CLAIM: Kind<SlotClaim> = {
  name: 'SlotClaim',
  codec: SlotClaim,
  check: checkClaim,
  context: (m, ctx) => inContext(ctx, m, ['from', m.from], { slot: m.slot }),
};
const SLOT_STATE: Kind<SlotState> = {
  name: 'SlotState',
  codec: SlotState,
  check: checkSlotState,
  // A state saved after an earlier stage is still a state: no stage is stale.
  context: (m, { stage: _, ...ctx }) => inContext(ctx, m, ['stage', m.stage], { slot: m.slot }),
};
const SHARD: Kind<TrajectoryShard> = {
  name: 'TrajectoryShard',
  codec: TrajectoryShard,
  check: checkShard,
  limits: {
    trajectories: LIMITS.trajectories,
    trajectories$: { ids: LIMITS.tokens, turns: LIMITS.turns, turns$: { ids: LIMITS.tokens, logprobs: LIMITS.tokens } },
  },
  context: (m, ctx) => {
    inContext(ctx, m, ['stage', m.stage], {});
    m.trajectories.forEach((t, r) =>
      t.turns.forEach((u, k) =>
        need(ctx.slots === undefined || u.slot < ctx.slots, 'out-of-range', `trajectories[${r}].turns[${k}].slot`),
      ),
    );
  },
};
const UPDATE: Kind<LogprobUpdate> = {
  name: 'LogprobUpdate',
  codec: LogprobUpdate,
  check: checkUpdate,
  limits: {
    shards: LIMITS.shards,
    logprobs: LIMITS.updateTokens,
    cur: LIMITS.updateTokens,
    after: LIMITS.slots,
    refused: LIMITS.slots,
    evidence: LIMITS.slots,
  },
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { position: m.position, slot: m.slot }),
};
const ATTESTATION: Kind<Attestation> = {
  name: 'Attestation',
  codec: Attestation,
  check: checkAttestation,
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { position: m.position, slot: m.slot }),
};
const RECORD: Kind<StageRecord> = {
  name: 'StageRecord',
  codec: StageRecord,
  check: checkRecord,
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { slot: m.slot, position: m.position }),
};
const PASS: Kind<TokenPass> = {
  name: 'TokenPass',
  codec: TokenPass,
  check: checkPass,
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { position: m.position, from: m.from, to: m.to }),
};
const ACK: Kind<TokenAck> = {
  name: 'TokenAck',
  codec: TokenAck,
  check: checkAck,
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], { position: m.position, slot: m.slot }),
};

const ANNOUNCE: Kind<Announce> = {
  name: 'Announce',
  codec: Announce,
  check: checkAnnounce,
  context: (m, ctx) => inContext(ctx, m, ['stage', m.stage], {}),
};

type Bytes = Uint8Array | Uint8ArrayList;

export const decodeTeamManifest = (b: Bytes, ctx?: DecodeContext) => decodeAs(MANIFEST, b, ctx);
export const decodeHeartbeat = (b: Bytes, ctx?: DecodeContext) => decodeAs(HEARTBEAT, b, ctx);
export const decodeSlotClaim = (b: Bytes, ctx?: DecodeContext) => decodeAs(CLAIM, b, ctx);
export const decodeSlotState = (b: Bytes, ctx?: DecodeContext) => decodeAs(SLOT_STATE, b, ctx);
export const decodeTrajectoryShard = (b: Bytes, ctx?: DecodeContext) => decodeAs(SHARD, b, ctx);
export const decodeLogprobUpdate = (b: Bytes, ctx?: DecodeContext) => decodeAs(UPDATE, b, ctx);
export const decodeAttestation = (b: Bytes, ctx?: DecodeContext) => decodeAs(ATTESTATION, b, ctx);
export const decodeStageRecord = (b: Bytes, ctx?: DecodeContext) => decodeAs(RECORD, b, ctx);
export const decodeTokenPass = (b: Bytes, ctx?: DecodeContext) => decodeAs(PASS, b, ctx);
export const decodeTokenAck = (b: Bytes, ctx?: DecodeContext) => decodeAs(ACK, b, ctx);
export const decodeAnnounce = (b: Bytes, ctx?: DecodeContext) => decodeAs(ANNOUNCE, b, ctx);

export const encodeTeamManifest = (m: TeamManifest) => encodeAs(MANIFEST, m);
export const encodeHeartbeat = (m: Heartbeat) => encodeAs(HEARTBEAT, m);
export const encodeSlotClaim = (m: SlotClaim) => encodeAs(CLAIM, m);
export const encodeSlotState = (m: SlotState) => encodeAs(SLOT_STATE, m);
export const encodeTrajectoryShard = (m: TrajectoryShard) => encodeAs(SHARD, m);
export const encodeLogprobUpdate = (m: LogprobUpdate) => encodeAs(UPDATE, m);
export const encodeAttestation = (m: Attestation) => encodeAs(ATTESTATION, m);
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
  for (const s of shards)
    for (const t of s.trajectories) for (const u of t.turns) if (u.slot === slot) n += u.ids.length;
  return n;
}
