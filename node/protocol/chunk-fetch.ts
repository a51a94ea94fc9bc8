// Fetching a manifest's chunks from the peers that serve them (docs/design §4.13).
//
// One stream to each provider on /sat/chunks/1, with `parallel` requests in flight on it; each
// provider takes the next chunk nobody is fetching, so a fast provider serves more (work stealing),
// and near the end an idle provider asks again for a chunk still in flight at another (a stalled
// provider cannot hold the transfer up). Every chunk is hashed on arrival: a provider that sends
// other bytes is counted and not asked for that chunk again (nor for any after its fourth bad one),
// and the chunk goes to another. A provider whose stream breaks or falls silent is dialed again a
// few times; its outstanding chunks go to the others at once. Chunks already in the store are not
// fetched, so a fetch interrupted by an abort, a crash or a restart resumes where it stopped.
import { createHash } from 'node:crypto';
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { Uint8ArrayList } from 'uint8arraylist';
import { sleep } from '../util/until.ts';
import { verifyContent } from './cid.ts';
import { CHUNK_LIMITS, type Manifest, decodeManifest, manifestBytes, manifestChunks } from './chunk-codec.ts';
import { CHUNKS_PROTOCOL, FOUND, MISSING } from './chunk-server.ts';
import type { ChunkStore } from './chunk-store.ts';
import { bump } from './counters.ts';
import { ChunkFetchError } from './errors.ts';
import { FrameError, StreamReader, varint } from './frames.ts';

/**
 * Requests kept in flight to each provider by default: 8 MiB, enough for 1 Gbit/s at a 60 ms round trip. On loopback
 * 4 did as well and 16 worse (more bytes held unread, more garbage collection).
 */
export const DEFAULT_PARALLEL = 8;
/** A provider that sends nothing for this long while asked is taken for gone. */
export const RESPONSE_TIMEOUT_MS = 30_000;
/** Times a provider whose stream broke is dialed again before the transfer gives it up. */
const REDIALS = 2;
const REDIAL_BACKOFF_MS = 500;
/**
 * Chunk writes in flight at once: the next answer is read while chunks go to disk, whose latency varies (writeback)
 * far more than the network's on a LAN.
 */
const MAX_WRITES = 8;
/** Bad chunks a provider may send before it is asked for nothing more in this transfer. */
const MAX_CORRUPT = 4;

export interface FetchProgress {
  chunksDone: number;
  chunksTotal: number;
  /** Bytes of the distinct chunks in the store, those it had before the fetch included. */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes fetched by this call per second since it began. */
  bytesPerSecond: number;
}

export interface ChunkFetchCounters {
  /** Chunks fetched, checked and stored, and their bytes. */
  chunksFetched: number;
  bytesFetched: number;
  /** Chunks that did not hash to their CID (or had another length), by provider. */
  corruptFrom: Map<string, number>;
  /** MISSING answers, by provider. */
  missingFrom: Map<string, number>;
  /** Streams that failed to open, broke off or fell silent, by provider. */
  failedFrom: Map<string, number>;
  /** Chunks that came twice (asked again near the end, while still in flight elsewhere). */
  duplicates: number;
}

export const newFetchCounters = (): ChunkFetchCounters => ({
  chunksFetched: 0,
  bytesFetched: 0,
  corruptFrom: new Map(),
  missingFrom: new Map(),
  failedFrom: new Map(),
  duplicates: 0,
});

export interface FetchOptions {
  /** Requests in flight to each provider (default DEFAULT_PARALLEL). */
  parallel?: number;
  /** Stops the fetch (it rejects with the signal's reason); what arrived stays in the store. */
  signal?: AbortSignal;
  /** Called after each chunk is stored (a callback's error is ignored). */
  onProgress?: (p: FetchProgress) => void;
  /** Counters to add to (default: new ones, returned). */
  counters?: ChunkFetchCounters;
  /** Pins the manifest under this label as soon as it is in the store, so gc() keeps a partial fetch. */
  pin?: string;
  /** See RESPONSE_TIMEOUT_MS. */
  timeoutMs?: number;
  /** The bytes its entries were announced to hold: a manifest of another size is refused before any chunk. */
  bytes?: number;
  /** Looks at the manifest before any chunk is fetched (its `meta`, say): what it throws ends the fetch. */
  check?: (manifest: Manifest) => void;
}

/** One distinct chunk to fetch. */
interface Want {
  cid: CID;
  bytes: number;
  done: boolean;
  /** Providers with a request for it in flight. */
  asked: Set<string>;
  /** Providers that lack it or sent other bytes: not asked for it again. */
  refused: Set<string>;
}

/**
 * Fetches the manifest `cid` and every chunk of it the store lacks from `providers` (peers this node can dial that
 * serve /sat/chunks/1), into `store`. Resolves with the manifest once every chunk is stored; throws a ChunkFetchError
 * naming how many chunks no provider could supply.
 */
export async function fetchManifest(
  libp2p: Libp2p,
  store: ChunkStore,
  cid: CID,
  providers: PeerId[],
  opts: FetchOptions = {},
): Promise<{ manifest: Manifest; counters: ChunkFetchCounters }> {
  const counters = opts.counters ?? newFetchCounters();
  const self = libp2p.peerId.toString();
  const peers = [...new Map(providers.map((p) => [p.toString(), p])).values()].filter((p) => p.toString() !== self);
  // Pinned first: a gc while the manifest arrives (or is read) keeps it, and with it every chunk stored since.
  if (opts.pin !== undefined) store.pin(cid, opts.pin);
  let manifest = await store.manifest(cid);
  if (!manifest) {
    const fetched = await fetchManifestBlock(libp2p, cid, peers, counters, opts);
    await store.putVerified(cid, fetched.bytes);
    manifest = fetched.manifest;
  }
  if (opts.bytes !== undefined && manifestBytes(manifest) !== opts.bytes)
    throw new ChunkFetchError(
      `manifest ${cid} holds ${manifestBytes(manifest)} bytes, not the ${opts.bytes} it was announced with: not fetched`,
      manifestChunks(manifest).length,
    );
  opts.check?.(manifest);
  const wants: Want[] = manifestChunks(manifest)
    .filter((c) => !store.has(c.cid))
    .map((c) => ({ ...c, done: false, asked: new Set(), refused: new Set() }));
  const hold = store.hold(wants.map((w) => w.cid));
  try {
    if (wants.length > 0) await new Transfer(libp2p, store, cid, manifest, wants, peers, counters, opts).run();
  } finally {
    hold.release();
  }
  return { manifest, counters };
}

/** The manifest `cid` from the first provider that has it, checked against its hash and validated. */
async function fetchManifestBlock(
  libp2p: Libp2p,
  cid: CID,
  peers: PeerId[],
  counters: ChunkFetchCounters,
  opts: FetchOptions,
): Promise<{ manifest: Manifest; bytes: Uint8Array }> {
  const reasons: string[] = [];
  for (const peer of peers) {
    opts.signal?.throwIfAborted();
    const key = peer.toString();
    let bytes: Uint8Array | undefined;
    try {
      bytes = await fetchBlock(libp2p, peer, cid, CHUNK_LIMITS.manifestBytes, opts);
    } catch (err) {
      opts.signal?.throwIfAborted();
      bump(isBadBytes(err) ? counters.corruptFrom : counters.failedFrom, key);
      reasons.push(`${key}: ${(err as Error).message}`);
      continue;
    }
    if (!bytes) {
      bump(counters.missingFrom, key);
      reasons.push(`${key}: does not have it`);
      continue;
    }
    const d = verifyContent(cid, bytes) ? decodeManifest(bytes) : undefined;
    if (d?.ok) return { manifest: d.message, bytes };
    bump(counters.corruptFrom, key);
    reasons.push(`${key}: sent ${d ? `no valid manifest (${d.reason} ${d.field})` : 'other bytes'}`);
  }
  const why = reasons.length > 0 ? `: ${reasons.join('; ')}` : '';
  throw new ChunkFetchError(
    `no provider could supply manifest ${cid} (${peers.length} asked${why}): find peers that announce it`,
    1,
  );
}

/**
 * The block `cid` (at most `maxBytes`) from `peer` on /sat/chunks/1, unchecked (the caller checks the hash), or
 * undefined when the peer lacks it. Throws a FrameError when the peer breaks the protocol, another error when the
 * stream fails.
 */
export async function fetchBlock(
  libp2p: Libp2p,
  peer: PeerId,
  cid: CID,
  maxBytes: number,
  { signal, timeoutMs = RESPONSE_TIMEOUT_MS }: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<Uint8Array | undefined> {
  const deadline = anySignal(signal, AbortSignal.timeout(timeoutMs));
  const stream = await libp2p.dialProtocol(peer, CHUNKS_PROTOCOL, { signal: deadline });
  const reader = new StreamReader(stream, { maxBuffered: maxBytes + 16 });
  try {
    stream.send(new Uint8ArrayList(varint(cid.bytes.byteLength), cid.bytes));
    const status = await reader.byte(deadline);
    let bytes: Uint8Array | undefined;
    if (status === FOUND) {
      const n = await reader.length(maxBytes, deadline);
      if (n === undefined) throw new FrameError('truncated', 'the stream ended before the block');
      bytes = await reader.bytes(n, deadline);
    } else if (status !== MISSING) throw new FrameError(status === undefined ? 'truncated' : 'bad-status', 'no status');
    await stream.close({ signal: deadline });
    return bytes;
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  } finally {
    reader.release();
  }
}

const anySignal = (a: AbortSignal | undefined, b: AbortSignal) => (a ? AbortSignal.any([a, b]) : b);

/** A provider that sent too many bad chunks: dropped from the transfer, never dialed again for it. */
class Dropped extends Error {}

/** One fetch of a manifest's missing chunks, from its start until every chunk is stored or it fails. */
class Transfer {
  private readonly parallel: number;
  private readonly timeoutMs: number;
  private readonly maxChunk: number;
  /** Ends every wait and read once the transfer is over. */
  private readonly over = new AbortController();
  private outcome: { error?: unknown } | undefined;
  private settle!: () => void;
  /** Wants in order; `next` is the first never asked. */
  private next = 0;
  /** Wants given back (by a provider that lacked them, sent other bytes or went away), to ask another. */
  private readonly retry: Want[] = [];
  private readonly inFlight = new Set<Want>();
  private readonly writes = new Set<Promise<void>>();
  private alive: number;
  private idle = 0;
  private wake: (() => void)[] = [];
  /** Distinct chunks of the manifest, and those in the store. */
  private readonly total: number;
  private done: number;
  private bytesDone: number;
  private readonly bytesTotal: number;
  private readonly begun = performance.now();

  constructor(
    private readonly libp2p: Libp2p,
    private readonly store: ChunkStore,
    private readonly cid: CID,
    manifest: Manifest,
    private readonly wants: Want[],
    private readonly peers: PeerId[],
    private readonly counters: ChunkFetchCounters,
    private readonly opts: FetchOptions,
  ) {
    this.parallel = Math.max(1, opts.parallel ?? DEFAULT_PARALLEL);
    this.timeoutMs = opts.timeoutMs ?? RESPONSE_TIMEOUT_MS;
    this.maxChunk = manifest.chunkBytes;
    this.alive = peers.length;
    const all = manifestChunks(manifest);
    this.bytesTotal = all.reduce((n, c) => n + c.bytes, 0);
    this.bytesDone = this.bytesTotal - wants.reduce((n, w) => n + w.bytes, 0);
    this.total = all.length;
    this.done = all.length - wants.length;
  }

  async run(): Promise<void> {
    const finished = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
    const onAbort = () => this.end({ error: this.opts.signal!.reason });
    if (this.opts.signal?.aborted) onAbort();
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (const peer of this.peers) void this.work(peer);
      this.check();
      await finished;
    } finally {
      this.opts.signal?.removeEventListener('abort', onAbort);
      await Promise.allSettled(this.writes); // so that the store holds, and the counters count, all that arrived
    }
    if (this.outcome?.error !== undefined) throw this.outcome.error;
  }

  private end(outcome: { error?: unknown }): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.over.abort(outcome.error ?? new Error('the transfer is complete'));
    this.notify();
    this.settle();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const w of wake) w();
  }

  /** Fails the transfer once no provider is left that could supply a missing chunk. */
  private check(): void {
    if (this.outcome) return;
    if (this.done === this.total) return this.end({});
    if (this.inFlight.size > 0 || this.writes.size > 0 || this.idle < this.alive) return;
    const missing = this.wants.filter((w) => !w.done).length;
    const c = this.counters;
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    this.end({
      error: new ChunkFetchError(
        `${missing} of ${this.wants.length} chunks of manifest ${this.cid} could not be fetched ` +
          `from ${this.peers.length} providers (missing answers ${sum(c.missingFrom)}, ` +
          `bad chunks ${sum(c.corruptFrom)}, failed streams ${sum(c.failedFrom)}); ` +
          'what arrived is kept: fetch again, with other providers, to resume',
        missing,
      ),
    });
  }

  /**
   * The next chunk for `peer` to ask for: one given back, else the next never asked, else (at the end) one in flight
   * at one other provider.
   */
  private take(peer: string): Want | undefined {
    for (let i = 0; i < this.retry.length; i++) {
      const w = this.retry[i];
      if (w.done || w.asked.size > 0) {
        this.retry.splice(i--, 1);
      } else if (!w.refused.has(peer)) {
        this.retry.splice(i, 1);
        return w;
      }
    }
    while (this.next < this.wants.length) {
      const w = this.wants[this.next++];
      if (w.done || w.asked.size > 0) continue;
      if (!w.refused.has(peer)) return w;
      this.retry.push(w);
    }
    for (const w of this.inFlight)
      if (!w.done && w.asked.size === 1 && !w.asked.has(peer) && !w.refused.has(peer)) return w;
    return undefined;
  }

  /** `peer` no longer has a request for `w` in flight; `w` goes back to be asked of others unless it is done. */
  private giveBack(w: Want, peer: string): void {
    w.asked.delete(peer);
    if (w.asked.size === 0) {
      this.inFlight.delete(w);
      if (!w.done) this.retry.push(w);
    }
    this.notify();
  }

  /** Stores `w` in the background; waits while MAX_WRITES are in flight. */
  private async write(w: Want, bytes: Uint8ArrayList): Promise<void> {
    const p = this.stored(w, bytes).then(
      () => {
        this.writes.delete(p);
        this.check();
      },
      (err) => {
        this.writes.delete(p);
        this.end({ error: err }); // the store failed: no provider can fix that
      },
    );
    this.writes.add(p);
    while (this.writes.size >= MAX_WRITES) await Promise.race(this.writes);
  }

  private async stored(w: Want, bytes: Uint8ArrayList): Promise<void> {
    await this.store.putVerified(w.cid, bytes);
    this.counters.chunksFetched++;
    this.counters.bytesFetched += bytes.byteLength;
    this.done++;
    this.bytesDone += bytes.byteLength;
    try {
      this.opts.onProgress?.({
        chunksDone: this.done,
        chunksTotal: this.total,
        bytesDone: this.bytesDone,
        bytesTotal: this.bytesTotal,
        bytesPerSecond: this.counters.bytesFetched / ((performance.now() - this.begun) / 1000),
      });
    } catch {
      // the caller's callback is not the transfer's concern
    }
  }

  /** Waits, idle, until something changes (a chunk given back, a provider gone, the end). */
  private async waitIdle(): Promise<void> {
    this.idle++;
    this.check();
    if (!this.outcome) await new Promise<void>((resolve) => this.wake.push(resolve));
    this.idle--;
  }

  /** Fetches from `peer` until the transfer is over, dialing again after a broken stream a few times. */
  private async work(peer: PeerId): Promise<void> {
    const key = peer.toString();
    let failures = 0;
    while (!this.outcome) {
      let stream: Stream | undefined;
      try {
        stream = await this.libp2p.dialProtocol(peer, CHUNKS_PROTOCOL, {
          signal: AbortSignal.any([this.over.signal, AbortSignal.timeout(this.timeoutMs)]),
        });
        await this.session(key, stream);
        break; // the transfer is over
      } catch (err) {
        if (this.outcome) break;
        // A dropped provider's bad chunks are counted already; a broken framing counts as bad bytes.
        if (isBadBytes(err)) bump(this.counters.corruptFrom, key);
        else if (!(err instanceof Dropped)) bump(this.counters.failedFrom, key);
        stream?.abort(err as Error);
        if (err instanceof Dropped || ++failures > REDIALS) break;
        await sleep(REDIAL_BACKOFF_MS * failures, this.over.signal);
      }
    }
    this.alive--;
    this.check();
  }

  /** One stream to `peer`: keeps `parallel` requests in flight, takes each answer in order. */
  private async session(peer: string, stream: Stream): Promise<void> {
    const reader = new StreamReader(stream, {
      maxBuffered: this.parallel * (this.maxChunk + 16),
      idleMs: this.timeoutMs,
    });
    const over = () => reader.cancel(new Error('the transfer is over'));
    this.over.signal.addEventListener('abort', over);
    const sent: Want[] = [];
    let corrupt = 0;
    try {
      for (;;) {
        while (!this.outcome && sent.length < this.parallel) {
          const w = this.take(peer);
          if (!w) break;
          w.asked.add(peer);
          this.inFlight.add(w);
          sent.push(w);
          stream.send(new Uint8ArrayList(varint(w.cid.bytes.byteLength), w.cid.bytes));
        }
        if (sent.length === 0) {
          if (this.outcome) break;
          await this.waitIdle();
          continue;
        }
        const w = sent[0];
        const status = await reader.byte();
        if (status === MISSING) {
          sent.shift();
          w.refused.add(peer);
          bump(this.counters.missingFrom, peer);
          this.giveBack(w, peer);
          continue;
        }
        if (status !== FOUND)
          throw new FrameError(status === undefined ? 'truncated' : 'bad-status', 'the provider sent no status');
        const n = await reader.length(this.maxChunk);
        if (n === undefined) throw new FrameError('truncated', 'the stream ended before a chunk');
        const bytes = await reader.pieces(n);
        sent.shift();
        if (w.done) {
          this.counters.duplicates++;
          this.giveBack(w, peer);
          continue;
        }
        if (n !== w.bytes || !hashesTo(w.cid, bytes)) {
          w.refused.add(peer);
          bump(this.counters.corruptFrom, peer);
          this.giveBack(w, peer);
          if (++corrupt >= MAX_CORRUPT) throw new Dropped(`${peer} sent ${corrupt} bad chunks`);
          continue;
        }
        w.done = true;
        this.giveBack(w, peer);
        await this.write(w, bytes);
      }
      await stream
        .close({ signal: AbortSignal.timeout(this.timeoutMs) })
        .catch(() => stream.abort(new Error('close failed')));
    } catch (err) {
      if (this.outcome) {
        stream.abort(new Error('the transfer is over'));
        return;
      }
      throw err;
    } finally {
      this.over.signal.removeEventListener('abort', over);
      reader.release();
      for (const w of sent) this.giveBack(w, peer);
    }
  }
}

/** Whether `pieces` hash to `cid` (sha2-256, the one form this network uses), without joining them. */
function hashesTo(cid: CID, pieces: Uint8ArrayList): boolean {
  const hash = createHash('sha256');
  for (const piece of pieces) hash.update(piece);
  return Buffer.from(cid.multihash.digest).equals(hash.digest());
}

/** Whether the provider broke the protocol (a stream that merely ended is a provider gone, not bad bytes). */
const isBadBytes = (err: unknown) => err instanceof FrameError && err.reason !== 'truncated';
