// The team's wire messages: every kind round-trips; each rejection reason comes from a concrete bad
// message; oversize input is refused before decoding; context checks; and a seeded fuzz run of random
// and mutated bytes through every decoder, which never throws, stays fast, and lets only valid
// messages through. FUZZ_SEED=<n> reruns the fuzz with another seed.
import test, { type ExecutionContext } from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { base58btc } from 'multiformats/bases/base58';
import * as Digest from 'multiformats/hashes/digest';
import { Uint8ArrayList } from 'uint8arraylist';
import { contentId } from '../../node/protocol/cid.ts';
import {
  Admission,
  type Decoded,
  type DecodeContext,
  Heartbeat,
  LIMITS,
  LogprobUpdate,
  MAX_BYTES,
  type MessageKind,
  PROTOCOL_VERSION,
  Announce,
  Attestation,
  BlockKind,
  type Reason,
  SlotClaim,
  SlotState,
  StageRecord,
  TeamManifest,
  TokenAck,
  TokenPass,
  TrajectoryShard,
  Workflow,
  decodeAnnounce,
  decodeAttestation,
  encodeAnnounce,
  encodeAttestation,
  decodeHeartbeat,
  decodeLogprobUpdate,
  decodeSlotClaim,
  decodeSlotState,
  decodeStageRecord,
  decodeTeamManifest,
  decodeTokenAck,
  decodeTokenPass,
  decodeTrajectoryShard,
  encodeHeartbeat,
  encodeLogprobUpdate,
  encodeSlotClaim,
  encodeSlotState,
  encodeStageRecord,
  encodeTeamManifest,
  encodeTokenAck,
  encodeTokenPass,
  encodeTrajectoryShard,
  ownTokenCount,
  teamId,
} from '../../node/protocol/codec.ts';
import { MessageError } from '../../node/protocol/errors.ts';
import { rng as mulberry32 } from '../../node/agent/model/random.ts';

const bytesOf = (u: () => number, n: number) => Uint8Array.from({ length: n }, () => Math.floor(u() * 256));

// ---- Valid messages of every kind.

const HASH = bytesOf(mulberry32(1), 32);
const peer = (k: number) => Digest.create(0x00, bytesOf(mulberry32(100 + k), 36)).bytes; // an identity multihash, as Ed25519 peer ids are
const MANIFEST: TeamManifest = {
  version: PROTOCOL_VERSION,
  name: 'demo team',
  upgrades: true,
  slots: [
    { role: 'solver', family: 'qwen3', tokenizer: HASH },
    { role: 'checker', family: 'qwen3', tokenizer: HASH },
  ],
  workflow: Workflow.CHAIN,
  config: JSON.stringify({ sat: { epsilon: 0.2, group_size: 4 }, algorithm: { gamma: 1 }, seed: 42 }),
  dataset: { name: 'demo', cid: contentId(new TextEncoder().encode('{"prompt":"1+1","answer":"2"}\n')).bytes, uri: '' },
  admission: Admission.ALLOWLIST,
  allow: [peer(1), peer(2)],
};
const TEAM = teamId(MANIFEST);
const TIME = 1_750_000_000_000;
const f32 = (xs: number[]) => xs.map(Math.fround);

const HEARTBEAT: Heartbeat = {
  version: 5,
  team: TEAM,
  slot: 1,
  stage: 3,
  model: 'qwen3-0.6b',
  time: TIME,
  digestStage: 2,
  digest: HASH,
};
const CLAIM: SlotClaim = {
  version: 5,
  team: TEAM,
  slot: 1,
  family: 'qwen3',
  tokenizer: HASH,
  upgrade: true,
  from: 4,
  time: TIME,
};
const SLOT_STATE: SlotState = {
  version: 5,
  team: TEAM,
  slot: 1,
  stage: 2,
  manifest: contentId(new TextEncoder().encode('a chunk manifest')).bytes,
  bytes: 2_400_000_000,
};
const SHARD: TrajectoryShard = {
  version: 5,
  team: TEAM,
  stage: 3,
  trajectories: [
    {
      prompt: 0,
      group: 0,
      ids: [5, 9, 3],
      turns: [
        { slot: 0, ids: [7, 8], logprobs: f32([-0.5, -1.25]) },
        { slot: 1, ids: [2], logprobs: f32([-0.1]) },
      ],
      reward: 1,
    },
    {
      prompt: 1,
      group: 1,
      ids: [4],
      turns: [
        { slot: 0, ids: [6, 6, 6], logprobs: f32([0, -3.5, -20]) },
        { slot: 1, ids: [1, 2], logprobs: f32([-0.01, -2]) },
      ],
      reward: 0,
    },
  ],
  rollout: 'train/0',
  part: 0,
  parts: 1,
  chunk: 0,
  chunks: 0,
};
const SHARD_CID = contentId(TrajectoryShard.encode(SHARD)).bytes;
const RECORD: StageRecord = {
  version: 5,
  team: TEAM,
  stage: 3,
  slot: 1,
  position: 0,
  accepted: true,
  delta: 0.01,
  n: 8,
  zeta: 0.003,
  gain: 0.12,
  kl: 0.008,
  beta: 0.15,
  backtracks: 1,
  step: 0.5,
  reward: 0.625,
  gap: 1e-6,
};
const UPDATE: LogprobUpdate = {
  version: 5,
  team: TEAM,
  stage: 3,
  position: 0,
  slot: 1,
  shards: [SHARD_CID],
  logprobs: f32([-0.2, -0.02, -1.5]),
  cur: f32([-0.1, -0.03, -1.5]),
  record: RECORD,
  after: [],
  refused: [],
  evidence: [],
};
const PASS: TokenPass = {
  version: 5,
  team: TEAM,
  stage: 3,
  position: 1,
  from: 1,
  to: 0,
  update: contentId(LogprobUpdate.encode(UPDATE)).bytes,
  time: TIME,
};
const ACK: TokenAck = { version: 5, team: TEAM, stage: 3, position: 1, slot: 0 };
/**
 * An update whose embedded record names the same team, stage, slot and position (the cases below vary the update's).
 */
const withRecord = (m: LogprobUpdate): LogprobUpdate =>
  m.record ? { ...m, record: { ...m.record, team: m.team, stage: m.stage, slot: m.slot, position: m.position } } : m;
const ATTESTATION: Attestation = {
  version: 5,
  team: TEAM,
  stage: 3,
  position: 1,
  slot: 0,
  update: SHARD_CID,
  holds: false,
  why: 'its logp_new is not what the weights it names give',
  peer: peer(2),
  signature: bytesOf(mulberry32(3), 64),
  abstains: false,
};
const ANNOUNCE: Announce = {
  version: 5,
  team: TEAM,
  stage: 3,
  kind: BlockKind.SHARD,
  cid: contentId(TrajectoryShard.encode(SHARD)).bytes,
  turns: 1,
  size: 100,
  rollout: 'train/0',
};

/** Each kind: a valid message, the generated (unvalidated) encoder, and the codec's pair. */
interface Kind<T> {
  name: MessageKind;
  valid: T;
  raw: (m: T) => Uint8Array;
  encode: (m: T) => Uint8Array;
  decode: (b: Uint8Array | Uint8ArrayList, ctx?: DecodeContext) => Decoded<T>;
}
const kind = <T>(k: Kind<T>) => k as unknown as Kind<Record<string, unknown>>;
const KINDS = [
  kind<TeamManifest>({
    name: 'TeamManifest',
    valid: MANIFEST,
    raw: TeamManifest.encode,
    encode: encodeTeamManifest,
    decode: decodeTeamManifest,
  }),
  kind<Heartbeat>({
    name: 'Heartbeat',
    valid: HEARTBEAT,
    raw: Heartbeat.encode,
    encode: encodeHeartbeat,
    decode: decodeHeartbeat,
  }),
  kind<SlotClaim>({
    name: 'SlotClaim',
    valid: CLAIM,
    raw: SlotClaim.encode,
    encode: encodeSlotClaim,
    decode: decodeSlotClaim,
  }),
  kind<SlotState>({
    name: 'SlotState',
    valid: SLOT_STATE,
    raw: SlotState.encode,
    encode: encodeSlotState,
    decode: decodeSlotState,
  }),
  kind<TrajectoryShard>({
    name: 'TrajectoryShard',
    valid: SHARD,
    raw: TrajectoryShard.encode,
    encode: encodeTrajectoryShard,
    decode: decodeTrajectoryShard,
  }),
  kind<LogprobUpdate>({
    name: 'LogprobUpdate',
    valid: UPDATE,
    raw: (m) => LogprobUpdate.encode(withRecord(m)),
    encode: (m) => encodeLogprobUpdate(withRecord(m)),
    decode: decodeLogprobUpdate,
  }),
  kind<StageRecord>({
    name: 'StageRecord',
    valid: RECORD,
    raw: StageRecord.encode,
    encode: encodeStageRecord,
    decode: decodeStageRecord,
  }),
  kind<TokenPass>({
    name: 'TokenPass',
    valid: PASS,
    raw: TokenPass.encode,
    encode: encodeTokenPass,
    decode: decodeTokenPass,
  }),
  kind<TokenAck>({
    name: 'TokenAck',
    valid: ACK,
    raw: TokenAck.encode,
    encode: encodeTokenAck,
    decode: decodeTokenAck,
  }),
  kind<Attestation>({
    name: 'Attestation',
    valid: ATTESTATION,
    raw: Attestation.encode,
    encode: encodeAttestation,
    decode: decodeAttestation,
  }),
  kind<Announce>({
    name: 'Announce',
    valid: ANNOUNCE,
    raw: Announce.encode,
    encode: encodeAnnounce,
    decode: decodeAnnounce,
  }),
];
const byName = (name: MessageKind) => KINDS.find((k) => k.name === name)!;

function rejects(t: ExecutionContext, got: Decoded<unknown>, reason: Reason, what: string): void {
  t.false(got.ok, `${what}: accepted`);
  if (!got.ok) t.is(got.reason, reason, `${what}: rejected as ${got.reason} (${got.field}), expected ${reason}`);
}

// ---- Round trips.

for (const k of KINDS) {
  test(`${k.name} round-trips, from a Uint8Array and a Uint8ArrayList`, (t) => {
    const bytes = k.encode(k.valid);
    t.true(bytes.byteLength <= MAX_BYTES[k.name]);
    t.deepEqual(bytes, k.raw(k.valid)); // encoding adds nothing to what the schema writes
    const got = k.decode(bytes, { team: TEAM, stage: 3, slots: 2 });
    t.deepEqual(got, { ok: true, message: k.valid });
    const list = new Uint8ArrayList(bytes.subarray(0, 5), bytes.subarray(5));
    t.deepEqual(k.decode(list), { ok: true, message: k.valid });
  });
}

test('the optional and zero fields round-trip too', (t) => {
  const { update: _, ...skipped } = PASS;
  t.deepEqual(decodeTokenPass(encodeTokenPass(skipped)), { ok: true, message: skipped });
  const empty = { ...PASS, update: new Uint8Array(0) };
  t.deepEqual(decodeTokenPass(encodeTokenPass(empty)), { ok: true, message: empty });
  const open = { ...MANIFEST, admission: Admission.OPEN, allow: [], workflow: Workflow.ENSEMBLE };
  t.deepEqual(decodeTeamManifest(encodeTeamManifest(open)), { ok: true, message: open });
  const zero = {
    ...RECORD,
    stage: 0,
    slot: 0,
    accepted: false,
    delta: 0,
    n: 0,
    zeta: 0,
    gain: -0.5,
    kl: 0,
    beta: 0,
    backtracks: 0,
    reward: 0,
  };
  t.deepEqual(decodeStageRecord(encodeStageRecord(zero)), { ok: true, message: zero });
  const noTokens = { ...UPDATE, logprobs: [], cur: [] };
  t.deepEqual(decodeLogprobUpdate(encodeLogprobUpdate(noTokens)), { ok: true, message: noTokens });
});

test('the team id is the CID of the encoded manifest', (t) => {
  t.is(TEAM, contentId(encodeTeamManifest(MANIFEST)).toString());
  t.regex(TEAM, /^bafkrei[a-z2-7]+$/);
  t.not(teamId({ ...MANIFEST, name: 'another team' }), TEAM);
  t.is(teamId(structuredClone(MANIFEST)), TEAM);
  // A manifest received for a team id must hash to it.
  const bytes = encodeTeamManifest(MANIFEST);
  t.true(decodeTeamManifest(bytes, { team: TEAM }).ok);
  rejects(
    t,
    decodeTeamManifest(bytes, { team: teamId({ ...MANIFEST, name: 'x' }) }),
    'wrong-team',
    'manifest of another team',
  );
});

test('ownTokenCount counts the tokens a LogprobUpdate of a slot carries', (t) => {
  t.is(ownTokenCount([SHARD], 0), 5);
  t.is(ownTokenCount([SHARD], 1), UPDATE.logprobs.length);
  t.is(ownTokenCount([SHARD, SHARD], 1), 6);
  t.is(ownTokenCount([SHARD], 7), 0);
});

// ---- Rejections, one concrete bad message per reason (and more where a reason has several causes).

const with_ = <T>(m: T, patch: Partial<T>): T => ({ ...m, ...patch });
const traj = (patch: Partial<TrajectoryShard['trajectories'][number]>) =>
  with_(SHARD, { trajectories: [with_(SHARD.trajectories[0], patch)] });
const turn = (patch: Partial<TrajectoryShard['trajectories'][number]['turns'][number]>) =>
  traj({ turns: [with_(SHARD.trajectories[0].turns[0], patch)] });

const BAD: [MessageKind, string, Record<string, unknown>, Reason][] = [
  ['Heartbeat', 'version 1', with_(HEARTBEAT, { version: 1 }), 'bad-version'],
  ['Heartbeat', 'no version', with_(HEARTBEAT, { version: 0 }), 'bad-version'],
  ['TrajectoryShard', 'version 7', with_(SHARD, { version: 7 }), 'bad-version'],
  ['Heartbeat', 'no team', with_(HEARTBEAT, { team: '' }), 'missing'],
  ['Heartbeat', 'no model', with_(HEARTBEAT, { model: '' }), 'missing'],
  ['Heartbeat', 'no time', with_(HEARTBEAT, { time: 0 }), 'missing'],
  ['SlotClaim', 'no tokenizer hash', with_(CLAIM, { tokenizer: undefined }), 'missing'],
  ['SlotClaim', 'no family', with_(CLAIM, { family: '' }), 'missing'],
  ['TeamManifest', 'no slots', with_(MANIFEST, { slots: [] }), 'missing'],
  ['TeamManifest', 'no dataset', with_(MANIFEST, { dataset: undefined }), 'missing'],
  [
    'TeamManifest',
    'a slot without a role',
    with_(MANIFEST, { slots: [{ role: '', family: 'qwen3', tokenizer: HASH }] }),
    'missing',
  ],
  ['TeamManifest', 'an empty allowlist', with_(MANIFEST, { allow: [] }), 'missing'],
  ['TrajectoryShard', 'no trajectories', with_(SHARD, { trajectories: [] }), 'missing'],
  ['TrajectoryShard', 'no count of parts', with_(SHARD, { parts: 0 }), 'missing'],
  ['TrajectoryShard', `${LIMITS.shards + 1} parts`, with_(SHARD, { parts: LIMITS.shards + 1 }), 'out-of-range'],
  ['TrajectoryShard', 'part 2 of 2', with_(SHARD, { part: 2, parts: 2 }), 'inconsistent'],
  ['TrajectoryShard', 'chunk 3 of 3', with_(SHARD, { chunk: 3, chunks: 3 }), 'inconsistent'],
  ['TrajectoryShard', 'chunk 1 of a turn not shared', with_(SHARD, { chunk: 1, chunks: 0 }), 'inconsistent'],
  ['TrajectoryShard', `${LIMITS.shards + 1} chunks`, with_(SHARD, { chunks: LIMITS.shards + 1 }), 'out-of-range'],
  ['TrajectoryShard', 'a trajectory without turns', traj({ turns: [] }), 'missing'],
  ['TrajectoryShard', 'a trajectory without prompt ids', traj({ ids: [] }), 'missing'],
  ['TrajectoryShard', 'an empty turn', turn({ ids: [], logprobs: [] }), 'missing'],
  ['LogprobUpdate', 'no shards', with_(UPDATE, { shards: [] }), 'missing'],
  ['LogprobUpdate', 'weights that are no CID', with_(UPDATE, { weights: HASH }), 'bad-cid'],
  [
    'LogprobUpdate',
    'evidence with no update refused',
    with_(UPDATE, { evidence: [new Uint8Array(8)] }),
    'inconsistent',
  ],
  ['Attestation', 'no signature', with_(ATTESTATION, { signature: undefined }), 'missing'],
  ['Attestation', 'holding up and not checked', with_(ATTESTATION, { holds: true, abstains: true }), 'inconsistent'],
  ['Attestation', 'a signer that is no peer id', with_(ATTESTATION, { peer: HASH }), 'bad-peer-id'],
  ['Attestation', 'a refusal that says not why', with_(ATTESTATION, { why: '' }), 'missing'],
  ['Attestation', 'an update reference that is no CID', with_(ATTESTATION, { update: HASH }), 'bad-cid'],
  ['Heartbeat', 'a 257-character model', with_(HEARTBEAT, { model: 'm'.repeat(LIMITS.text + 1) }), 'too-long'],
  [
    'TeamManifest',
    `${LIMITS.slots + 1} slots`,
    with_(MANIFEST, { slots: Array(LIMITS.slots + 1).fill(MANIFEST.slots[0]) }),
    'too-long',
  ],
  [
    'TrajectoryShard',
    'a turn over the token cap',
    turn({ ids: Array(LIMITS.tokens + 1).fill(1), logprobs: Array(LIMITS.tokens + 1).fill(-1) }),
    'too-long',
  ],
  [
    'TeamManifest',
    'an over-long allowlist entry',
    with_(MANIFEST, { allow: [Digest.create(0x00, new Uint8Array(200)).bytes] }),
    'too-long',
  ],
  ['Heartbeat', `slot ${LIMITS.slots}`, with_(HEARTBEAT, { slot: LIMITS.slots }), 'out-of-range'],
  ['Heartbeat', 'a digest of a stage not begun', with_(HEARTBEAT, { digestStage: 4 }), 'inconsistent'],
  ['Heartbeat', 'a digest of 31 bytes', with_(HEARTBEAT, { digest: HASH.slice(1) }), 'inconsistent'],
  ['Heartbeat', 'a digest with no stage', with_(HEARTBEAT, { digestStage: 0 }), 'inconsistent'],
  ['SlotClaim', 'a 31-byte tokenizer hash', with_(CLAIM, { tokenizer: HASH.subarray(1) }), 'out-of-range'],
  ['TrajectoryShard', 'a positive log-prob', turn({ logprobs: f32([-0.5, 0.25]) }), 'out-of-range'],
  ['TrajectoryShard', 'a token id of 2^31', turn({ ids: [7, 2 ** 31] }), 'out-of-range'],
  ['TrajectoryShard', `a turn of slot ${LIMITS.slots}`, turn({ slot: LIMITS.slots }), 'out-of-range'],
  ['LogprobUpdate', 'a positive log-prob', with_(UPDATE, { logprobs: [-1, 0.5] }), 'out-of-range'],
  ['StageRecord', 'a negative delta', with_(RECORD, { delta: -0.01 }), 'out-of-range'],
  ['StageRecord', 'a negative KL quantile', with_(RECORD, { kl: -1e-9 }), 'out-of-range'],
  [
    'StageRecord',
    `${LIMITS.backtracks + 1} backtracks`,
    with_(RECORD, { backtracks: LIMITS.backtracks + 1 }),
    'out-of-range',
  ],
  ['TokenPass', `position ${LIMITS.slots}`, with_(PASS, { position: LIMITS.slots }), 'out-of-range'],
  ['TrajectoryShard', 'a NaN reward', traj({ reward: NaN }), 'non-finite'],
  ['TrajectoryShard', 'a -Infinity log-prob', turn({ logprobs: [-0.5, -Infinity] }), 'non-finite'],
  ['StageRecord', 'an infinite gain', with_(RECORD, { gain: Infinity }), 'non-finite'],
  ['StageRecord', 'a NaN beta', with_(RECORD, { beta: NaN }), 'non-finite'],
  ['LogprobUpdate', 'a NaN log-prob', with_(UPDATE, { logprobs: [-1, NaN] }), 'non-finite'],
  ['TrajectoryShard', 'fewer log-probs than ids', turn({ ids: [7, 8, 9] }), 'length-mismatch'],
  ['TrajectoryShard', 'more log-probs than ids', turn({ ids: [7] }), 'length-mismatch'],
  ['Heartbeat', 'a team id that is no CID', with_(HEARTBEAT, { team: 'my-team' }), 'bad-cid'],
  [
    'Heartbeat',
    'a team id in base58',
    with_(HEARTBEAT, { team: contentId(new Uint8Array(1)).toString(base58btc) }),
    'bad-cid',
  ],
  [
    'LogprobUpdate',
    'a shard reference that is no CID',
    with_(UPDATE, { shards: [new Uint8Array([1, 2, 3])] }),
    'bad-cid',
  ],
  ['TokenPass', 'an update reference that is no CID', with_(PASS, { update: SHARD_CID.subarray(0, 20) }), 'bad-cid'],
  [
    'TeamManifest',
    'a dataset reference that is no CID',
    with_(MANIFEST, { dataset: { name: 'demo', cid: HASH, uri: '' } }),
    'bad-cid',
  ],
  [
    'TeamManifest',
    'an allowlist entry that is no multihash',
    with_(MANIFEST, { allow: [new Uint8Array([0x12, 0x20, 1, 2])] }),
    'bad-peer-id',
  ],
  [
    'SlotState',
    'a state of no stage (stage 0 is the configured model)',
    with_(SLOT_STATE, { stage: 0 }),
    'out-of-range',
  ],
  ['SlotState', 'a manifest reference that is no CID', with_(SLOT_STATE, { manifest: HASH }), 'bad-cid'],
  ['SlotState', 'no manifest', with_(SLOT_STATE, { manifest: undefined }), 'missing'],
  ['SlotState', 'a state of no bytes', with_(SLOT_STATE, { bytes: 0 }), 'out-of-range'],
  ['SlotState', 'a slot beyond any roster', with_(SLOT_STATE, { slot: 64 }), 'out-of-range'],
  ['TeamManifest', 'a config that is no JSON', with_(MANIFEST, { config: 'sat: {epsilon: 0.2}' }), 'bad-config'],
  ['TeamManifest', 'a config that is a JSON array', with_(MANIFEST, { config: '[1, 2]' }), 'bad-config'],
  ['TeamManifest', 'an allowlist under open admission', with_(MANIFEST, { admission: Admission.OPEN }), 'inconsistent'],
  ['TokenPass', 'a pass to its own holder', with_(PASS, { to: PASS.from }), 'inconsistent'],
  ['TeamManifest', 'a peer listed twice', with_(MANIFEST, { allow: [peer(1), peer(1)] }), 'duplicate'],
  ['LogprobUpdate', 'a shard listed twice', with_(UPDATE, { shards: [SHARD_CID, SHARD_CID] }), 'duplicate'],
  [
    'LogprobUpdate',
    'an update both followed and refused',
    with_(UPDATE, { position: 2, after: [SHARD_CID], refused: [SHARD_CID] }),
    'duplicate',
  ],
  ['LogprobUpdate', 'more refused than positions before it', with_(UPDATE, { refused: [SHARD_CID] }), 'inconsistent'],
];

for (const [name, what, message, reason] of BAD) {
  test(`${name}: ${what} is rejected as ${reason}, and refused by the encoder`, (t) => {
    const k = byName(name);
    rejects(t, k.decode(k.raw(message)), reason, what);
    const err = t.throws(() => k.encode(message), { instanceOf: MessageError });
    t.is(err?.name, 'MessageError');
    t.is((err as MessageError | undefined)?.reason, reason);
  });
}

test('undecodable bytes are malformed', (t) => {
  const hb = encodeHeartbeat(HEARTBEAT);
  rejects(t, decodeHeartbeat(hb.subarray(0, hb.length - 3)), 'malformed', 'truncated in the time field');
  rejects(t, decodeHeartbeat(Uint8Array.from([0x12, 0x40, 0x62])), 'malformed', 'a string running past the end');
  rejects(t, decodeHeartbeat(Uint8Array.from([0x08, 0x01, 0x17])), 'malformed', 'wire type 7');
  rejects(
    t,
    decodeHeartbeat(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
    'malformed',
    'an endless varint',
  );
  // An enum value the schema does not know.
  const manifest = encodeTeamManifest(MANIFEST);
  rejects(t, decodeTeamManifest(Uint8Array.from([...manifest, 0x20, 0x07])), 'malformed', 'workflow 7');
  // Start-group tags of an unknown field, nested a million deep.
  rejects(t, decodeTrajectoryShard(new Uint8Array(1 << 20).fill(0x7b)), 'malformed', 'deeply nested groups');
  // Bad UTF-8 that the decoder turns into a lone surrogate (CESU-8's encoding of U+D800).
  rejects(
    t,
    decodeHeartbeat(Uint8Array.from([...encodeHeartbeat(HEARTBEAT), 0x2a, 0x04, 0x61, 0xed, 0xa0, 0x80])),
    'malformed',
    'a surrogate in the model',
  );
  t.is(
    t.throws(() => encodeHeartbeat({ ...HEARTBEAT, model: 'a\ud800' }), { instanceOf: MessageError })?.reason,
    'malformed',
  );
});

// Bytes that are not UTF-8: an overlong `/`, a lead byte followed by ASCII (2, 3 and 4-byte forms), a lone
// continuation byte, a surrogate (CESU-8), a code point past U+10FFFF.
const NOT_UTF8 = [
  [0xc0, 0xaf],
  [0xc3, 0x28],
  [0xe2, 0x82, 0x28],
  [0xf0, 0x28, 0x8c, 0x28],
  [0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

test('text that is not UTF-8 is malformed in every string field, top-level or nested', (t) => {
  const field = (tag: number, bytes: number[]) => [tag, bytes.length, ...bytes];
  // Each kind's bytes with `text` in a string field: given again after the valid one (the later wins), or in a
  // nested message (a manifest's extra slot's role).
  const carriers: [string, (text: number[]) => Decoded<unknown>][] = [
    ['heartbeat model', (x) => decodeHeartbeat(Uint8Array.from([...encodeHeartbeat(HEARTBEAT), ...field(0x2a, x)]))],
    ['heartbeat team', (x) => decodeHeartbeat(Uint8Array.from([...encodeHeartbeat(HEARTBEAT), ...field(0x12, x)]))],
    ['claim family', (x) => decodeSlotClaim(Uint8Array.from([...encodeSlotClaim(CLAIM), ...field(0x22, x)]))],
    [
      'manifest slot role',
      (x) => decodeTeamManifest(Uint8Array.from([...encodeTeamManifest(MANIFEST), ...field(0x1a, field(0x0a, x))])),
    ],
  ];
  const malformed = (r: Decoded<unknown>) => !r.ok && r.reason === 'malformed';
  for (const [where, decode] of carriers) {
    t.false(malformed(decode([0x61, 0xc3, 0xa9])), `${where}: valid text is not malformed`);
    for (const bad of NOT_UTF8)
      t.true(malformed(decode([0x61, ...bad])), `${where}: ${bad.map((b) => b.toString(16))}`);
  }
  // Valid text of every width still decodes, byte for byte.
  for (const model of ['é', '漢字', '🦀', 'a\u00a0b', '\ufeffbom']) {
    const r = decodeHeartbeat(encodeHeartbeat({ ...HEARTBEAT, model }));
    t.true(r.ok && r.message.model === model, model);
  }
});

test('a time past 2^53 is refused', (t) => {
  // Field 6 (time) again, as the varint of 2^55 (the later value wins): the decoder refuses unsafe integers.
  const bytes = Uint8Array.from([...encodeHeartbeat(HEARTBEAT), 0x30, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
  rejects(t, decodeHeartbeat(bytes), 'malformed', 'time 2^55');
  t.is(
    t.throws(() => encodeHeartbeat({ ...HEARTBEAT, time: 2 ** 60 }), { instanceOf: MessageError })?.reason,
    'out-of-range',
  );
  t.is(
    t.throws(() => encodeHeartbeat({ ...HEARTBEAT, time: 1.5 }), { instanceOf: MessageError })?.reason,
    'out-of-range',
  );
});

test('oversize input is refused before it is decoded', (t) => {
  for (const k of KINDS) {
    // A valid encoding padded past the limit with an unknown field, which a decoder would skip.
    const valid = k.encode(k.valid);
    const pad = MAX_BYTES[k.name] + 1 - valid.length - 2 - varint(MAX_BYTES[k.name]).length;
    const padded = Uint8Array.from([...valid, 0xfa, 0x3f, ...varint(pad), ...new Uint8Array(pad)]); // field 1023, length-delimited
    t.is(padded.length, MAX_BYTES[k.name] + 1);
    rejects(t, k.decode(padded), 'too-large', `${k.name} of ${padded.length} bytes`);
    rejects(
      t,
      k.decode(new Uint8ArrayList(padded.subarray(0, 10), padded.subarray(10))),
      'too-large',
      `${k.name} as a list`,
    );
    // At the limit the same padding is decoded and skipped.
    const atLimit = Uint8Array.from([...valid, 0xfa, 0x3f, ...varint(pad - 1), ...new Uint8Array(pad - 1)]);
    t.is(atLimit.length, MAX_BYTES[k.name]);
    t.true(k.decode(atLimit).ok, `${k.name} of ${atLimit.length} bytes`);
  }
  // 64 MiB of garbage comes back at once.
  const garbage = new Uint8Array(64 << 20).fill(0x22);
  const start = performance.now();
  rejects(t, decodeTrajectoryShard(garbage), 'too-large', '64 MiB');
  t.true(performance.now() - start < 50);
});

test('lists are capped while decoding: a flood of empty sub-messages is cut short', (t) => {
  // 2 MiB of empty trajectories (0x22 0x00) would be a million objects.
  const flood = new Uint8Array(2 << 20);
  for (let i = 0; i < flood.length; i += 2) flood[i] = 0x22;
  rejects(t, decodeTrajectoryShard(flood), 'too-long', 'a million empty trajectories');
  const turns = new Uint8Array(2 << 20);
  turns.set([0x22, 0xfe, 0xff, 0x7f]); // one trajectory holding ~1M empty turns (0x22 0x00)
  for (let i = 4; i < turns.length; i += 2) turns[i] = 0x22;
  rejects(t, decodeTrajectoryShard(turns), 'too-long', 'a million empty turns');
});

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

// ---- Context: this team, not an older stage, slots within the roster.

test('context: messages for another team are rejected', (t) => {
  const other = teamId({ ...MANIFEST, name: 'other' });
  for (const k of KINDS.filter((k) => k.name !== 'TeamManifest')) {
    const bytes = k.encode({ ...k.valid, team: other });
    t.true(k.decode(bytes).ok);
    rejects(t, k.decode(bytes, { team: TEAM }), 'wrong-team', k.name);
    t.true(k.decode(k.encode(k.valid), { team: TEAM }).ok);
  }
});

test('context: messages for an older stage are stale; the current and later ones pass', (t) => {
  for (const k of KINDS.filter((k) => k.name !== 'TeamManifest' && k.name !== 'SlotState')) {
    const field = k.name === 'SlotClaim' ? 'from' : 'stage';
    const at = k.valid[field] as number;
    const bytes = k.encode(k.valid);
    rejects(t, k.decode(bytes, { stage: at + 1 }), 'stale-stage', k.name);
    t.true(k.decode(bytes, { stage: at }).ok, k.name);
    t.true(k.decode(bytes, { stage: 0 }).ok, k.name);
  }
});

test("context: a slot's state saved after an earlier stage is no less a state", (t) => {
  const bytes = encodeSlotState(SLOT_STATE);
  t.true(decodeSlotState(bytes, { team: TEAM, stage: SLOT_STATE.stage + 5, slots: 2 }).ok);
});

test('context: slots and order positions must lie within the roster', (t) => {
  const cases: [MessageKind, Record<string, unknown>][] = [
    ['Heartbeat', with_(HEARTBEAT, { slot: 2 })],
    ['SlotClaim', with_(CLAIM, { slot: 2 })],
    ['SlotState', with_(SLOT_STATE, { slot: 2 })],
    ['TrajectoryShard', turn({ slot: 2 })],
    ['LogprobUpdate', with_(UPDATE, { slot: 2 })],
    ['LogprobUpdate', with_(UPDATE, { position: 2 })],
    ['StageRecord', with_(RECORD, { slot: 2 })],
    ['StageRecord', with_(RECORD, { position: 2 })],
    ['TokenPass', with_(PASS, { from: 2 })],
    ['TokenPass', with_(PASS, { to: 2 })],
    ['TokenPass', with_(PASS, { position: 2 })],
    ['TokenAck', with_(ACK, { slot: 2 })],
    ['TokenAck', with_(ACK, { position: 2 })],
  ];
  for (const [name, message] of cases) {
    const k = byName(name);
    const bytes = k.encode(message);
    rejects(
      t,
      k.decode(bytes, { slots: 2 }),
      'out-of-range',
      `${name} ${JSON.stringify(message, (_, v) => (v instanceof Uint8Array ? undefined : v)).slice(0, 80)}`,
    );
    t.true(k.decode(bytes, { slots: 3 }).ok);
  }
});

// ---- Fuzz.

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const hex = (b: Uint8Array) =>
  Buffer.from(b.subarray(0, 4096)).toString('hex') + (b.length > 4096 ? `... (${b.length} bytes)` : '');

/** Positions of the length prefixes of length-delimited fields, nested messages included. */
function lengthPrefixes(
  b: Uint8Array,
  start = 0,
  end = b.length,
  out: { at: number; size: number }[] = [],
): { at: number; size: number }[] | undefined {
  const found: { at: number; size: number }[] = [];
  const read = (p: number): [number, number] | undefined => {
    let v = 0;
    for (let i = 0; i < 5 && p + i < end; i++) {
      v += (b[p + i] & 0x7f) * 2 ** (7 * i);
      if (!(b[p + i] & 0x80)) return [v, i + 1];
    }
    return undefined;
  };
  for (let p = start; p < end; ) {
    const tag = read(p);
    if (!tag || tag[0] >>> 3 === 0) return undefined;
    p += tag[1];
    const wt = tag[0] & 7;
    if (wt === 0) {
      const v = read(p);
      if (!v) return undefined;
      p += v[1];
    } else if (wt === 1) p += 8;
    else if (wt === 5) p += 4;
    else if (wt === 2) {
      const len = read(p);
      if (!len || p + len[1] + len[0] > end) return undefined;
      found.push({ at: p, size: len[1] });
      const inner = lengthPrefixes(b, p + len[1], p + len[1] + len[0]);
      if (inner) found.push(...inner);
      p += len[1] + len[0];
    } else return undefined;
    if (p > end) return undefined;
  }
  out.push(...found);
  return out;
}

/** One mutation of a valid encoding: bit flips, truncation, a splice, a corrupted length, an insertion or a repeat. */
function mutate(u: () => number, b: Uint8Array, donors: Uint8Array[]): Uint8Array {
  const pick = (n: number) => Math.floor(u() * n);
  switch (pick(6)) {
    case 0: {
      const out = Uint8Array.from(b);
      for (let i = 1 + pick(4); i > 0 && out.length > 0; i--) out[pick(out.length)] ^= 1 << pick(8);
      return out;
    }
    case 1:
      return b.slice(0, pick(b.length));
    case 2: {
      const donor = u() < 0.5 ? donors[pick(donors.length)] : bytesOf(u, 1 + pick(64));
      const [from, to] = [pick(b.length + 1), pick(b.length + 1)].sort((x, y) => x - y);
      const d0 = pick(donor.length + 1);
      return Uint8Array.from([
        ...b.subarray(0, from),
        ...donor.subarray(d0, d0 + pick(donor.length - d0 + 1)),
        ...b.subarray(to),
      ]);
    }
    case 3: {
      const prefixes = lengthPrefixes(b) ?? [];
      if (prefixes.length === 0) return b.slice(1);
      const { at, size } = prefixes[pick(prefixes.length)];
      const old = varintValue(b, at);
      const values = [0, old - 1, old + 1, old + 1 + pick(100), old * 2, 2 ** 31 - 1, 2 ** 32 - 1, pick(2 ** 28)];
      return Uint8Array.from([
        ...b.subarray(0, at),
        ...varint(Math.max(0, values[pick(values.length)])),
        ...b.subarray(at + size),
      ]);
    }
    case 4: {
      const at = pick(b.length + 1);
      return Uint8Array.from([...b.subarray(0, at), ...bytesOf(u, 1 + pick(16)), ...b.subarray(at)]);
    }
    default: {
      const [from, to] = [pick(b.length + 1), pick(b.length + 1)].sort((x, y) => x - y);
      return Uint8Array.from([...b, ...b.subarray(from, to)]);
    }
  }
}
function varintValue(b: Uint8Array, at: number): number {
  let v = 0;
  for (let i = 0; ; i++) {
    v += (b[at + i] & 0x7f) * 2 ** (7 * i);
    if (!(b[at + i] & 0x80)) return v;
  }
}

/**
 * Rules every accepted message must satisfy, checked apart from the codec: version, finite numbers, log-probs <= 0
 * beside ids of equal length.
 */
function independentlyValid(m: unknown, top = true): string | undefined {
  if (typeof m === 'number') return Number.isFinite(m) ? undefined : `non-finite ${m}`;
  if (m instanceof Uint8Array || typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  if (top && o.version !== PROTOCOL_VERSION) return `version ${String(o.version)}`;
  if ('logprobs' in o) {
    const lp = o.logprobs as number[];
    if (lp.some((x) => !(x <= 1e-5))) return 'a log-prob above 0 (beyond rounding)';
    if ('ids' in o && (o.ids as number[]).length !== lp.length) return 'ids and log-probs differ in length';
  }
  for (const v of Object.values(o)) {
    const bad = independentlyValid(v, false);
    if (bad) return bad;
  }
  return undefined;
}

interface FuzzStats {
  calls: number;
  accepted: number;
  maxMs: number;
}

/**
 * Decodes `bytes` as `k`, checking that it neither throws nor takes long, and that anything accepted is a valid
 * message.
 */
function fuzzOne(
  t: ExecutionContext,
  k: (typeof KINDS)[number],
  bytes: Uint8Array,
  what: string,
  stats: FuzzStats,
): boolean {
  const start = performance.now();
  let got: Decoded<Record<string, unknown>>;
  try {
    got = k.decode(bytes, { slots: LIMITS.slots });
  } catch (e) {
    t.fail(`${k.name} threw on ${what} (seed ${SEED}): ${String(e)}\ninput ${hex(bytes)}`);
    return false;
  }
  const ms = performance.now() - start;
  stats.calls++;
  stats.maxMs = Math.max(stats.maxMs, ms);
  if (ms > 1000) t.fail(`${k.name} took ${ms.toFixed(0)} ms on ${what} (seed ${SEED})\ninput ${hex(bytes)}`);
  if (!got.ok) return true;
  stats.accepted++;
  const bad = independentlyValid(got.message);
  let again: Decoded<Record<string, unknown>> | string;
  try {
    again = k.decode(k.encode(got.message));
  } catch (e) {
    again = String(e);
  }
  const same = typeof again !== 'string' && again.ok && isDeepStrictEqual(again.message, got.message);
  if (bad || !same) {
    t.fail(
      `${k.name} accepted an invalid message from ${what} (seed ${SEED}): ` +
        `${bad ?? `re-encoding gives ${typeof again === 'string' ? again : JSON.stringify(again).slice(0, 200)}`}\ninput ${hex(bytes)}`,
    );
    return false;
  }
  return true;
}
test(`fuzz: 10,000 random byte strings into every decoder are rejected without a throw (seed ${SEED})`, (t) => {
  const u = mulberry32(SEED);
  const stats: FuzzStats = { calls: 0, accepted: 0, maxMs: 0 };
  const start = performance.now();
  for (let i = 0; i < 10_000; i++) {
    const n = u() < 0.9 ? Math.floor(u() * 256) : Math.floor(u() * 8192);
    const bytes = bytesOf(u, n);
    for (const k of KINDS) {
      fuzzOne(t, k, bytes, `random input ${i}`, stats);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  t.log(`${stats.calls} decodes in ${seconds.toFixed(2)} s, slowest ${stats.maxMs.toFixed(2)} ms`);
  t.is(stats.accepted, 0, `seed ${SEED}: random bytes were accepted`);
});

test(`fuzz: 10,000 mutated valid encodings of each kind never throw, and what passes is valid (seed ${SEED})`, (t) => {
  const u = mulberry32(SEED + 1);
  // A few valid encodings per kind: the fixtures plus larger shards and updates.
  const big = with_(SHARD, {
    trajectories: Array.from({ length: 6 }, (_, r) => with_(SHARD.trajectories[r % 2], { prompt: r, group: r })),
  });
  const valid = new Map<MessageKind, Uint8Array[]>(KINDS.map((k) => [k.name, [k.encode(k.valid)]]));
  valid.get('TrajectoryShard')!.push(encodeTrajectoryShard(big));
  valid.get('LogprobUpdate')!.push(
    encodeLogprobUpdate(
      with_(UPDATE, {
        shards: [SHARD_CID, contentId(encodeTrajectoryShard(big)).bytes],
        logprobs: f32(Array.from({ length: 40 }, (_, i) => -i / 7)),
        cur: f32(Array.from({ length: 40 }, (_, i) => -i / 9)),
      }),
    ),
  );
  valid.get('TokenPass')!.push(encodeTokenPass(with_(PASS, { update: undefined })));
  valid.get('TeamManifest')!.push(encodeTeamManifest(with_(MANIFEST, { admission: Admission.OPEN, allow: [] })));
  const donors = [...valid.values()].flat();
  const stats: FuzzStats = { calls: 0, accepted: 0, maxMs: 0 };
  const start = performance.now();
  for (const k of KINDS) {
    const mine = valid.get(k.name)!;
    let passed = 0;
    for (let i = 0; i < 10_000; i++) {
      let bytes = mine[Math.floor(u() * mine.length)];
      for (let j = u() < 0.8 ? 1 : 2 + Math.floor(u() * 3); j > 0; j--) bytes = mutate(u, bytes, donors);
      const before = stats.accepted;
      if (!fuzzOne(t, k, bytes, `mutation ${i} of a ${k.name}`, stats)) return;
      passed += stats.accepted - before;
      // The same bytes into another decoder.
      const other = KINDS[Math.floor(u() * KINDS.length)];
      if (!fuzzOne(t, other, bytes, `mutation ${i} of a ${k.name}`, stats)) return;
    }
    t.log(`${k.name}: ${passed} of 10000 mutations still decode as valid messages`);
  }
  const seconds = (performance.now() - start) / 1000;
  t.log(
    `${stats.calls} decodes (${stats.accepted} accepted) in ${seconds.toFixed(2)} s, slowest ${stats.maxMs.toFixed(2)} ms`,
  );
  t.is(stats.calls, 2 * 10_000 * KINDS.length, 'every mutation went through two decoders');
});

test('a LogprobUpdate carries logp_cur for each logp_new and the record of the same agent and stage', (t) => {
  rejects(
    t,
    decodeLogprobUpdate(LogprobUpdate.encode({ ...UPDATE, cur: UPDATE.cur.slice(1) })),
    'length-mismatch',
    'cur',
  );
  rejects(t, decodeLogprobUpdate(LogprobUpdate.encode({ ...UPDATE, record: undefined })), 'missing', 'record');
  rejects(
    t,
    decodeLogprobUpdate(LogprobUpdate.encode({ ...UPDATE, record: { ...RECORD, slot: 0 } })),
    'inconsistent',
    'record',
  );
  rejects(
    t,
    decodeLogprobUpdate(LogprobUpdate.encode({ ...UPDATE, record: { ...RECORD, gap: -1 } })),
    'out-of-range',
    'record',
  );
  // Position 0 has no earlier update.
  rejects(t, decodeLogprobUpdate(LogprobUpdate.encode({ ...UPDATE, after: [SHARD_CID] })), 'inconsistent', 'after');
  const entering = {
    ...UPDATE,
    record: { ...RECORD, stage0: { deltaFrom: 0.5, delta: 1, deltaMax: 2, released: false } },
  };
  t.deepEqual(decodeLogprobUpdate(encodeLogprobUpdate(entering)), { ok: true, message: entering });
});
