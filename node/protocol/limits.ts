// The protocol's version and its hard limits: the size of each message kind, checked before decoding,
// and the caps on lists and fields its validators enforce (docs/design §4.3).

/** The `version` every message carries. */
export const PROTOCOL_VERSION = 5;

const KiB = 1024;
const MiB = 1024 * KiB;

/** Hard limits on the encoded size of each kind, checked before decoding. */
export const MAX_BYTES = {
  TeamManifest: 256 * KiB,
  Heartbeat: 64 * KiB,
  SlotClaim: 64 * KiB,
  SlotState: 64 * KiB,
  TrajectoryShard: 4 * MiB,
  LogprobUpdate: 16 * MiB,
  StageRecord: 64 * KiB,
  TokenPass: 64 * KiB,
  TokenAck: 64 * KiB,
  Announce: 64 * KiB,
  Attestation: 64 * KiB,
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
  /** Characters of an attestation's why. */
  why: 1024,
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
