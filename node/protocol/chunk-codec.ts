// Chunked content's two messages (docs/design §4.13): the manifest that lists a state's entries and
// the CIDs of their chunks, and the Have a peer gossips for each manifest it serves in full. As in
// codec.ts, decoding checks the size first, caps lists while decoding, validates every field after,
// and never throws; encoding validates the same way and throws a MessageError on bad local input.
import type { CID } from 'multiformats/cid';
import { MaxLengthError } from 'protons-runtime';
import { cidFromBytes } from './cid.ts';
import type { Decoded } from './codec.ts';
import { MessageError } from './errors.ts';
import { PROTOCOL_VERSION } from './limits.ts';
import { ChunkHave, ChunkManifest } from './messages.generated.ts';
import { Reject, need } from './validate.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The chunk size this implementation writes: a request costs little beside it, and a state spreads over many. */
export const CHUNK_BYTES = 1 * MiB;

/** Hard limits of chunked content. */
export const CHUNK_LIMITS = {
  /** An encoded manifest (about 38 bytes a chunk: some 100,000 chunks). */
  manifestBytes: 4 * MiB,
  /** The smallest and largest chunk size a manifest may declare. */
  minChunkBytes: 1 * KiB,
  maxChunkBytes: 4 * MiB,
  entries: 4096,
  /** Chunks of one manifest, all entries together (128 GiB at 1 MiB). */
  chunks: 131_072,
  /** Characters of an entry's name. */
  name: 1024,
  /** Bytes of the caller's metadata. */
  meta: 1 * MiB,
  /** An encoded ChunkHave. */
  haveBytes: 256,
} as const;

/** A state as the store and the network see it: named entries of bytes, each a list of chunks. */
export interface Manifest {
  chunkBytes: number;
  entries: ManifestEntry[];
  /** The caller's metadata (dtypes, shapes...), opaque here. */
  meta: Uint8Array;
}

export interface ManifestEntry {
  name: string;
  bytes: number;
  chunks: CID[];
}

/** What a ChunkHave says: `from` serves every chunk of `manifest`, `bytes` in all. */
export interface Have {
  manifest: CID;
  bytes: number;
}

/** The length of chunk `i` of `entry`: the chunk size, but for a shorter last chunk. */
export const chunkLength = (m: Pick<Manifest, 'chunkBytes'>, entry: ManifestEntry, i: number): number =>
  Math.min(m.chunkBytes, entry.bytes - i * m.chunkBytes);

/** The bytes of every entry together. */
export const manifestBytes = (m: Manifest): number => m.entries.reduce((n, e) => n + e.bytes, 0);

/** Every distinct chunk of `m` with its length, in the order they first appear (equal chunks are stored once). */
export function manifestChunks(m: Manifest): { cid: CID; bytes: number }[] {
  const seen = new Map<string, { cid: CID; bytes: number }>();
  for (const e of m.entries)
    e.chunks.forEach((cid, i) => {
      const key = cid.toString();
      if (!seen.has(key)) seen.set(key, { cid, bytes: chunkLength(m, e, i) });
    });
  return [...seen.values()];
}

function checkManifest(m: ChunkManifest): void {
  need(m.version === PROTOCOL_VERSION, 'bad-version', 'version');
  need(m.chunkBytes !== 0, 'missing', 'chunk_bytes');
  need(
    m.chunkBytes >= CHUNK_LIMITS.minChunkBytes && m.chunkBytes <= CHUNK_LIMITS.maxChunkBytes,
    'out-of-range',
    'chunk_bytes',
  );
  need(m.entries.length > 0, 'missing', 'entries');
  need(m.entries.length <= CHUNK_LIMITS.entries, 'too-long', 'entries');
  need((m.meta?.byteLength ?? 0) <= CHUNK_LIMITS.meta, 'too-long', 'meta');
  const names = new Set<string>();
  /** Each chunk's length where it first appears: a CID listed at two lengths cannot be both. */
  const lengths = new Map<string, number>();
  let chunks = 0;
  m.entries.forEach((e, i) => {
    const at = `entries[${i}]`;
    need(e.name.length > 0, 'missing', `${at}.name`);
    need(e.name.length <= CHUNK_LIMITS.name, 'too-long', `${at}.name`);
    need(e.name.isWellFormed(), 'malformed', `${at}.name`);
    need(!names.has(e.name), 'duplicate', `${at}.name`);
    names.add(e.name);
    need(Number.isSafeInteger(e.bytes) && e.bytes >= 0, 'out-of-range', `${at}.bytes`);
    need(e.chunks.length === Math.ceil(e.bytes / m.chunkBytes), 'inconsistent', `${at}.chunks`);
    chunks += e.chunks.length;
    need(chunks <= CHUNK_LIMITS.chunks, 'too-long', `${at}.chunks`);
    e.chunks.forEach((c, k) => {
      const cid = cidFromBytes(c);
      need(cid !== undefined, 'bad-cid', `${at}.chunks[${k}]`);
      const key = cid!.toString();
      const length = Math.min(m.chunkBytes, e.bytes - k * m.chunkBytes);
      need((lengths.get(key) ?? length) === length, 'inconsistent', `${at}.chunks[${k}]`);
      lengths.set(key, length);
    });
  });
}

function checkHave(m: ChunkHave): void {
  need(m.version === PROTOCOL_VERSION, 'bad-version', 'version');
  need(m.manifest !== undefined && m.manifest.byteLength > 0, 'missing', 'manifest');
  need(cidFromBytes(m.manifest!) !== undefined, 'bad-cid', 'manifest');
  need(Number.isSafeInteger(m.bytes) && m.bytes >= 0, 'out-of-range', 'bytes');
}

function decodeWith<W, T>(
  bytes: Uint8Array,
  max: number,
  decode: () => W,
  check: (m: W) => void,
  lift: (m: W) => T,
): Decoded<T> {
  if (bytes.byteLength > max) return { ok: false, reason: 'too-large', field: '' };
  let wire: W;
  try {
    wire = decode();
  } catch (e) {
    return { ok: false, reason: e instanceof MaxLengthError ? 'too-long' : 'malformed', field: '' };
  }
  try {
    check(wire);
  } catch (e) {
    return e instanceof Reject
      ? { ok: false, reason: e.reason, field: e.field }
      : { ok: false, reason: 'malformed', field: '' };
  }
  return { ok: true, message: lift(wire) };
}

function encodeWith<W>(kind: string, wire: W, max: number, check: (m: W) => void, encode: (m: W) => Uint8Array) {
  try {
    check(wire);
  } catch (e) {
    if (e instanceof Reject) throw new MessageError(e.reason, `invalid ${kind}: ${e.field} is ${e.reason}`);
    throw e;
  }
  const bytes = encode(wire);
  if (bytes.byteLength > max)
    throw new MessageError('too-large', `${kind} of ${bytes.byteLength} bytes is over its limit of ${max}`);
  return bytes;
}

/** A manifest's bytes (its CID names it); throws a MessageError when it breaks a rule or limit. */
export function encodeManifest(m: Manifest): Uint8Array {
  const wire: ChunkManifest = {
    version: PROTOCOL_VERSION,
    chunkBytes: m.chunkBytes,
    entries: m.entries.map((e) => ({ name: e.name, bytes: e.bytes, chunks: e.chunks.map((c) => c.bytes) })),
    ...(m.meta.byteLength > 0 ? { meta: m.meta as Uint8Array<ArrayBuffer> } : {}),
  };
  return encodeWith('ChunkManifest', wire, CHUNK_LIMITS.manifestBytes, checkManifest, ChunkManifest.encode);
}

export function decodeManifest(bytes: Uint8Array): Decoded<Manifest> {
  return decodeWith(
    bytes,
    CHUNK_LIMITS.manifestBytes,
    () =>
      ChunkManifest.decode(bytes, {
        limits: { entries: CHUNK_LIMITS.entries, entries$: { chunks: CHUNK_LIMITS.chunks } },
      }),
    checkManifest,
    (w) => ({
      chunkBytes: w.chunkBytes,
      entries: w.entries.map((e) => ({ name: e.name, bytes: e.bytes, chunks: e.chunks.map((c) => cidFromBytes(c)!) })),
      meta: w.meta ?? new Uint8Array(0),
    }),
  );
}

export function encodeHave(h: Have): Uint8Array {
  const wire: ChunkHave = {
    version: PROTOCOL_VERSION,
    manifest: h.manifest.bytes as Uint8Array<ArrayBuffer>,
    bytes: h.bytes,
  };
  return encodeWith('ChunkHave', wire, CHUNK_LIMITS.haveBytes, checkHave, ChunkHave.encode);
}

export function decodeHave(bytes: Uint8Array): Decoded<Have> {
  return decodeWith(
    bytes,
    CHUNK_LIMITS.haveBytes,
    () => ChunkHave.decode(bytes),
    checkHave,
    (w) => ({
      manifest: cidFromBytes(w.manifest!)!,
      bytes: w.bytes,
    }),
  );
}
