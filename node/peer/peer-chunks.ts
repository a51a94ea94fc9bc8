// A peer's chunked states (docs/design §4.13): the store under <data-dir>/chunks, served to the team on
// /sat/chunks/1 and announced on sat/<team>/chunks. Whatever their size, an agent's tensors handed to a newcomer
// and a slot's saved state go this way: offered as a pinned manifest of named files, fetched from every peer that
// has them (resuming across restarts), pinned, and served on.
import path from 'node:path';
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { type Manifest, manifestBytes } from '../protocol/chunk-codec.ts';
import { ChunkStore } from '../protocol/chunk-store.ts';
import { ChunkStoreError } from '../protocol/errors.ts';
import { ChunkServer } from '../protocol/chunk-server.ts';
import { ChunkProviders } from '../protocol/chunk-have.ts';
import { type FetchProgress, fetchManifest } from '../protocol/chunk-fetch.ts';
import type { PeerHost } from '../protocol/host.ts';
import { adversaryHooks } from './adversary-hooks.ts';

/** Files by the name they go by in a manifest (a plain file name: no folder). */
export type NamedFiles = Record<string, string>;

export interface ChunkFetch {
  /** Pins the manifest under this label (from its first chunk, so a partial fetch survives gc and resumes). */
  label: string;
  /** The bytes its entries were announced to hold: a manifest of another size is refused before any chunk. */
  bytes?: number;
  /** Looks at the manifest before any chunk is fetched: what it throws ends the fetch. */
  check?: (manifest: Manifest) => void;
  onProgress?: (p: FetchProgress) => void;
  signal?: AbortSignal;
}

export class PeerChunks {
  private constructor(
    private readonly host: PeerHost,
    readonly store: ChunkStore,
    private readonly server: ChunkServer,
    private readonly providers: ChunkProviders,
  ) {}

  /** What the chunk server refused, by reason and by sender. */
  get refused(): { byReason: ReadonlyMap<string, number>; bySender: ReadonlyMap<string, number> } {
    return { byReason: this.server.counters.rejected, bySender: this.server.counters.rejectedFrom };
  }

  static async start(host: PeerHost, team: string, dataDir: string): Promise<PeerChunks> {
    const store = await ChunkStore.open(path.join(dataDir, 'chunks'));
    const server = new ChunkServer(host.libp2p, store, adversaryHooks().chunk);
    await server.start();
    const providers = new ChunkProviders(host, { topic: `sat/${team}/chunks` });
    providers.start();
    return new PeerChunks(host, store, server, providers);
  }

  /**
   * Keeps `files` for the team to fetch (with the caller's `meta` in the manifest), pinned under `label` (what the
   * label held before is let go), and announces them; the manifest's CID and the bytes of its entries.
   */
  async offer(files: NamedFiles, label: string, meta?: Uint8Array): Promise<{ cid: CID; bytes: number }> {
    const before = this.store.pins().get(label);
    const entries = Object.entries(files).map(([name, source]) => ({ name, source }));
    const { cid, manifest } = await this.store.put(entries, { pin: label, ...(meta ? { meta } : {}) });
    await this.providers.announce(cid, manifestBytes(manifest));
    if (before && !before.equals(cid)) await this.letGo(before);
    return { cid, bytes: manifestBytes(manifest) };
  }

  /**
   * The manifest `cid` with every chunk of it, fetched from `from` and every peer heard to serve it (those already
   * here are kept: a fetch resumes), then pinned under `label` (what the label held before is let go) and served on.
   */
  async fetch(cid: CID, from: readonly PeerId[], o: ChunkFetch): Promise<Manifest> {
    const partial = `${o.label}/partial`;
    const fetching = fetchManifest(this.host.libp2p, this.store, cid, [...from, ...this.providers.providers(cid)], {
      pin: partial,
      ...(o.bytes !== undefined ? { bytes: o.bytes } : {}),
      ...(o.check ? { check: o.check } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    // The partial pin goes once this fetch ends, unless a later fetch under the label pinned its own there.
    const unpinPartial = () => this.store.pins().get(partial)?.equals(cid) && this.store.unpin(partial);
    const { manifest } = await fetching.catch((err: unknown) => {
      unpinPartial(); // what arrived stays in the store until a gc: a fetch again soon resumes
      throw err;
    });
    const before = this.store.pins().get(o.label);
    this.store.pin(cid, o.label);
    unpinPartial();
    await this.providers.announce(cid, manifestBytes(manifest));
    if (before && !before.equals(cid)) await this.letGo(before);
    return manifest;
  }

  /**
   * Writes each entry of `manifest`, one of `names`, to its own file in `dir`; the files by name. A ChunkStoreError
   * names an entry of another name before anything is written.
   */
  async materialize(manifest: Manifest, dir: string, names: readonly string[]): Promise<Map<string, string>> {
    const odd = manifest.entries.find((e) => !names.includes(e.name));
    if (odd)
      throw new ChunkStoreError(`a fetched manifest holds '${odd.name.slice(0, 80)}', none of ${names.join(', ')}`);
    const files = new Map(manifest.entries.map((e) => [e.name, path.join(dir, e.name)]));
    for (const [name, file] of files) await this.store.materialize(manifest, file, { entry: name });
    return files;
  }

  async stop(): Promise<void> {
    this.providers.stop();
    await this.server.stop();
  }

  /** Stops announcing `cid` once no pin holds it, and deletes what no pin needs. */
  private async letGo(cid: CID): Promise<void> {
    if (![...this.store.pins().values()].some((c) => c.equals(cid))) this.providers.withdraw(cid);
    await this.store.gc();
  }
}
