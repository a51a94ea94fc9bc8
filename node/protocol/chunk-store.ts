// A disk-backed store of content-addressed chunks (docs/design §4.13): a state too large for one block
// (an agent's weights, gigabytes) is split into chunks of CHUNK_BYTES, each a file named by its CID
// in the store's folder, listed in order by a manifest that is itself a block there. The folder is
// the state: a restarted peer reopens it and has what it had.
//
// Writes go to a temporary file renamed into place, so a chunk's file is whole or absent. Chunk files
// are not fsynced one by one: every read hashes the bytes again, so a chunk torn by a crash, or
// corrupted on disk later, is found when read, deleted, and fetched again. Temporary files left by a
// killed process are removed when the store opens. Nothing holds a whole state in memory: puts and
// materializations stream chunk by chunk.
//
// Pins name the manifests to keep (`pins.json`, written atomically); gc() deletes every block that no
// pinned manifest reaches and no put or fetch in progress holds. One process uses a folder at a time.
import fs from 'node:fs';
import path from 'node:path';
import type { CID } from 'multiformats/cid';
import type { Uint8ArrayList } from 'uint8arraylist';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { cidFromString, contentId, verifyContent } from './cid.ts';
import {
  CHUNK_BYTES,
  CHUNK_LIMITS,
  type Manifest,
  decodeManifest,
  encodeManifest,
  manifestChunks,
} from './chunk-codec.ts';
import { ChunkStoreError } from './errors.ts';

/** The largest block the store keeps: a chunk of the largest size a manifest may declare, or a manifest. */
export const MAX_STORED_BYTES = Math.max(CHUNK_LIMITS.maxChunkBytes, CHUNK_LIMITS.manifestBytes);
const PINS = 'pins.json';
const TEMP = '.tmp-';

/** One entry to put: a name and its bytes (a file's path, the bytes, or a stream of them). */
export interface PutEntry {
  name: string;
  source: string | Uint8Array | AsyncIterable<Uint8Array>;
}

export interface ChunkStoreCounters {
  /** Blocks written (chunks and manifests); a block already present is not written again. */
  written: number;
  /** Blocks whose file did not hash to its name when read: deleted, to be fetched again. */
  corrupt: number;
  /** Temporary files of interrupted writes removed when the store opened. */
  tempsRemoved: number;
}

/** Blocks a put or fetch in progress is writing: gc() keeps them until released. */
export interface Hold {
  add(cid: CID): void;
  release(): void;
}

export class ChunkStore {
  readonly counters: ChunkStoreCounters = { written: 0, corrupt: 0, tempsRemoved: 0 };
  private readonly holds = new Set<Set<string>>();
  private seq = 0;
  /** The gc() running, if one is: writes wait for it. */
  private collecting: Promise<unknown> | undefined;
  /** Bumped by every pin: a gc() that sees it move looks again at what the pins reach. */
  private pinEpoch = 0;

  private constructor(
    readonly dir: string,
    /** The CIDs (as strings) whose files are in the folder. */
    private readonly present: Set<string>,
    private readonly pinned: Map<string, CID>,
  ) {}

  /** Opens (creating it if need be) the store in `dir`: its blocks and pins are what the folder holds. */
  static async open(dir: string): Promise<ChunkStore> {
    try {
      await fs.promises.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new ChunkStoreError(`cannot create the chunk store folder ${dir}: ${(err as Error).message}`);
    }
    const present = new Set<string>();
    let temps = 0;
    for (const name of await fs.promises.readdir(dir)) {
      if (name.includes(TEMP)) {
        await fs.promises.rm(path.join(dir, name), { force: true });
        temps++;
      } else if (cidFromString(name)) present.add(name);
    }
    const store = new ChunkStore(dir, present, readPins(path.join(dir, PINS)));
    store.counters.tempsRemoved = temps;
    return store;
  }

  private file(cid: CID | string): string {
    return path.join(this.dir, cid.toString());
  }

  has(cid: CID): boolean {
    return this.present.has(cid.toString());
  }

  /** Blocks (chunks and manifests) in the store. */
  get size(): number {
    return this.present.size;
  }

  /**
   * The block `cid`, hashed again as it is read: undefined when absent, or when its file turns out corrupt (then it is
   * deleted and counted, so that a fetch gets it again).
   */
  async get(cid: CID): Promise<Uint8Array | undefined> {
    const key = cid.toString();
    if (!this.present.has(key)) return undefined;
    let bytes: Buffer;
    try {
      const fh = await fs.promises.open(this.file(key), 'r');
      try {
        const { size } = await fh.stat();
        if (size > MAX_STORED_BYTES) return await this.corrupt(key);
        bytes = Buffer.allocUnsafe(size);
        let got = 0;
        for (let n = -1; got < size && n !== 0; got += n) n = (await fh.read(bytes, got, size - got, got)).bytesRead;
        if (got < size) bytes = bytes.subarray(0, got); // the file shrank: it fails the hash below
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.present.delete(key); // deleted behind the store's back
      return undefined;
    }
    if (!verifyContent(cid, bytes)) return this.corrupt(key);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private async corrupt(key: string): Promise<undefined> {
    this.counters.corrupt++;
    this.present.delete(key);
    await fs.promises.rm(this.file(key), { force: true });
    return undefined;
  }

  /** Stores `bytes` (at most MAX_STORED_BYTES) under their CID; the CID. */
  async putBlock(bytes: Uint8Array): Promise<CID> {
    if (bytes.byteLength > MAX_STORED_BYTES)
      throw new ChunkStoreError(`a block of ${bytes.byteLength} bytes is over the ${MAX_STORED_BYTES} a store keeps`);
    const cid = contentId(bytes);
    await this.putVerified(cid, bytes);
    return cid;
  }

  /**
   * Stores `bytes` the caller has already checked hash to `cid` (a fetch checks each chunk on arrival), given whole or
   * as the pieces they arrived in.
   */
  async putVerified(cid: CID, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    const key = cid.toString();
    while (this.collecting) await this.collecting.catch(() => undefined); // a block gc() deletes is written after it
    if (this.present.has(key)) return;
    const tmp = `${this.file(key)}${TEMP}${process.pid}-${this.seq++}`;
    try {
      const fh = await fs.promises.open(tmp, 'w');
      try {
        const pieces = bytes instanceof Uint8Array ? [bytes] : [...bytes];
        const { bytesWritten } = await fh.writev(pieces);
        // a regular file takes a whole writev; should one stop short, the rest follows in one piece
        if (bytesWritten < bytes.byteLength)
          await fh.write(
            Buffer.concat(pieces).subarray(bytesWritten),
            0,
            bytes.byteLength - bytesWritten,
            bytesWritten,
          );
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, this.file(key));
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw new ChunkStoreError(`cannot write block ${key} in ${this.dir}: ${(err as Error).message}`);
    }
    this.present.add(key);
    this.counters.written++;
  }

  /**
   * Splits each entry into chunks of `chunkBytes`, stores them and a manifest listing them (with the caller's `meta`),
   * pinned under `pin` when given; the manifest and its CID. Reads each source once, a chunk at a time.
   */
  async put(
    entries: PutEntry[],
    {
      meta = new Uint8Array(0),
      chunkBytes = CHUNK_BYTES,
      pin,
    }: { meta?: Uint8Array; chunkBytes?: number; pin?: string } = {},
  ): Promise<{ cid: CID; manifest: Manifest }> {
    const hold = this.hold();
    try {
      const manifest: Manifest = { chunkBytes, entries: [], meta };
      for (const { name, source } of entries) {
        const entry = { name, bytes: 0, chunks: [] as CID[] };
        for await (const chunk of split(source, chunkBytes)) {
          const cid = contentId(chunk);
          hold.add(cid);
          await this.putVerified(cid, chunk);
          entry.chunks.push(cid);
          entry.bytes += chunk.byteLength;
        }
        manifest.entries.push(entry);
      }
      const cid = await this.putBlock(encodeManifest(manifest));
      if (pin !== undefined) this.pin(cid, pin); // before the hold goes: a gc meanwhile keeps every chunk
      return { cid, manifest };
    } finally {
      hold.release();
    }
  }

  /** The manifest `cid`, or undefined when the store lacks it. Throws when the block is no manifest. */
  async manifest(cid: CID): Promise<Manifest | undefined> {
    const bytes = await this.get(cid);
    if (!bytes) return undefined;
    const d = decodeManifest(bytes);
    if (!d.ok) throw new ChunkStoreError(`block ${cid} is no chunk manifest (${d.reason} ${d.field})`);
    return d.message;
  }

  /** The distinct chunks of `manifest` the store lacks. */
  missing(manifest: Manifest): CID[] {
    return manifestChunks(manifest)
      .filter((c) => !this.present.has(c.cid.toString()))
      .map((c) => c.cid);
  }

  /**
   * The bytes of `manifest`'s entries (or of the one named `entry`), chunk by chunk in order, each hashed again as it
   * is read; the next chunk is read while the caller handles one. Throws a ChunkStoreError at a chunk that is missing
   * or corrupt.
   */
  async *read(manifest: Manifest, entry?: string): AsyncGenerator<Uint8Array> {
    const entries = manifest.entries.filter((e) => entry === undefined || e.name === entry);
    if (entries.length === 0) throw new ChunkStoreError(`the manifest has no entry '${entry}'`);
    const cids = entries.flatMap((e) => e.chunks);
    // The read ahead is awaited only if the caller goes on: a failure of it must not go unhandled meanwhile.
    const ahead = (i: number) => {
      const p = i < cids.length ? this.get(cids[i]) : undefined;
      p?.catch(() => undefined);
      return p;
    };
    let next = ahead(0);
    for (let i = 0; i < cids.length; i++) {
      const bytes = await next;
      next = ahead(i + 1);
      if (!bytes) {
        throw new ChunkStoreError(
          `chunk ${cids[i]} is missing or corrupt in ${this.dir}: fetch the manifest again (a fetch resumes)`,
        );
      }
      yield bytes;
    }
  }

  /**
   * Writes the entries of a manifest (given, or by CID), or the one named `entry`, one after the other to `outFile`,
   * atomically; the bytes written. Throws a ChunkStoreError naming how many chunks are missing (before writing
   * anything) or the first found corrupt.
   */
  async materialize(of: Manifest | CID, outFile: string, { entry }: { entry?: string } = {}): Promise<number> {
    const manifest = 'entries' in of ? of : await this.manifest(of);
    if (!manifest) throw new ChunkStoreError(`manifest ${of} is not in ${this.dir}: fetch it first`);
    const scope =
      entry === undefined ? manifest : { ...manifest, entries: manifest.entries.filter((e) => e.name === entry) };
    const missing = this.missing(scope).length;
    if (missing > 0)
      throw new ChunkStoreError(
        `${missing} chunks of the manifest are not in ${this.dir}: fetch it first (a fetch resumes where it stopped)`,
      );
    const tmp = `${outFile}${TEMP}${process.pid}-${this.seq++}`;
    let written = 0;
    try {
      await fs.promises.mkdir(path.dirname(path.resolve(outFile)), { recursive: true });
      const fh = await fs.promises.open(tmp, 'w');
      try {
        for await (const bytes of this.read(manifest, entry)) {
          await fh.write(bytes);
          written += bytes.byteLength;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, outFile);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
    return written;
  }

  /** Keeps the block `cid` (a manifest: with all its chunks) through gc(), under `label`; pins survive restarts. */
  pin(cid: CID, label: string): void {
    if (label.length === 0 || label.length > 256) throw new ChunkStoreError('a pin label is 1-256 characters');
    this.pinned.set(label, cid);
    this.pinEpoch++;
    this.savePins();
  }

  /** Drops the pin `label` (its blocks go at the next gc() unless another pin reaches them). */
  unpin(label: string): void {
    if (this.pinned.delete(label)) this.savePins();
  }

  /** The pins by label. */
  pins(): ReadonlyMap<string, CID> {
    return this.pinned;
  }

  private savePins(): void {
    const json = Object.fromEntries([...this.pinned].map(([label, cid]) => [label, cid.toString()]));
    writeFileAtomic(path.join(this.dir, PINS), `${JSON.stringify(json, null, 1)}\n`);
  }

  /** Marks blocks being written so that gc() keeps them until `release()`. */
  hold(cids: Iterable<CID> = []): Hold {
    const keys = new Set([...cids].map((c) => c.toString()));
    this.holds.add(keys);
    return { add: (cid) => void keys.add(cid.toString()), release: () => void this.holds.delete(keys) };
  }

  /**
   * Deletes every block no pin reaches and no hold keeps; how many blocks and bytes went. One runs at a time; writes
   * wait for it, and a pin made meanwhile makes it look again at what the pins reach.
   */
  async gc(): Promise<{ blocks: number; bytes: number }> {
    while (this.collecting) await this.collecting.catch(() => undefined);
    const run = this.collect();
    this.collecting = run;
    try {
      return await run;
    } finally {
      this.collecting = undefined;
    }
  }

  private async collect(): Promise<{ blocks: number; bytes: number }> {
    let blocks = 0;
    let bytes = 0;
    for (;;) {
      const epoch = this.pinEpoch;
      const keep = await this.reachable();
      const held = (key: string) => keep.has(key) || [...this.holds].some((h) => h.has(key));
      let again = false;
      for (const key of [...this.present]) {
        if (held(key)) continue;
        if (epoch !== this.pinEpoch) {
          again = true;
          break;
        }
        this.present.delete(key);
        const stat = await fs.promises.stat(this.file(key)).catch(() => undefined);
        await fs.promises.rm(this.file(key), { force: true });
        blocks++;
        bytes += stat?.size ?? 0;
      }
      if (!again) return { blocks, bytes };
    }
  }

  /** The blocks the pins reach: each pinned block, and every chunk of those that are manifests. */
  private async reachable(): Promise<Set<string>> {
    const keep = new Set<string>();
    for (const cid of this.pinned.values()) {
      keep.add(cid.toString());
      let m: Manifest | undefined;
      try {
        m = await this.manifest(cid);
      } catch {
        continue; // a pinned block that is no manifest keeps only itself
      }
      for (const e of m?.entries ?? []) for (const c of e.chunks) keep.add(c.toString());
    }
    return keep;
  }
}

function readPins(file: string): Map<string, CID> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ChunkStoreError(`${file} is not a JSON object of pins: fix it, or delete it to drop every pin`);
  const pins = new Map<string, CID>();
  for (const [label, value] of Object.entries(json)) {
    const cid = typeof value === 'string' ? cidFromString(value) : undefined;
    if (!cid)
      throw new ChunkStoreError(`${file} pins '${label}' to '${value}', which is no block CID: fix or delete it`);
    pins.set(label, cid);
  }
  return pins;
}

/** The bytes of `source` in pieces of `size` (the last may be shorter; an empty source gives none). */
async function* split(source: PutEntry['source'], size: number): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    for (let at = 0; at < source.byteLength; at += size) yield source.subarray(at, at + size);
    return;
  }
  if (typeof source === 'string') {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(source, 'r');
    } catch (err) {
      throw new ChunkStoreError(`cannot read ${source}: ${(err as Error).message}`);
    }
    try {
      for (;;) {
        const buf = new Uint8Array(size);
        let got = 0;
        while (got < size) {
          const { bytesRead } = await fh.read(buf, got, size - got, null);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got > 0) yield got === size ? buf : buf.subarray(0, got);
        if (got < size) return;
      }
    } finally {
      await fh.close();
    }
  }
  let buf = new Uint8Array(size);
  let got = 0;
  for await (const piece of source) {
    for (let at = 0; at < piece.byteLength; ) {
      const n = Math.min(size - got, piece.byteLength - at);
      buf.set(piece.subarray(at, at + n), got);
      got += n;
      at += n;
      if (got === size) {
        yield buf;
        buf = new Uint8Array(size);
        got = 0;
      }
    }
  }
  if (got > 0) yield buf.subarray(0, got);
}
