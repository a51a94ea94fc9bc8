// A peer's chunked states (docs/design §4.13): the store under <data-dir>/chunks, served to the team on
// /sat/chunks/1 and announced on sat/<team>/chunks. Whatever their size, an agent's tensors handed to a newcomer
// and a slot's saved state go this way: offered as a pinned manifest of named files, fetched from every peer that
// has them (resuming across restarts), pinned, and served on.
import path from 'node:path';
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { type Manifest, manifestBytes } from '../protocol/chunk-codec.ts';
import { ChunkStore } from '../protocol/chunk-store.ts';
import { ChunkServer } from '../protocol/chunk-server.ts';
import { ChunkProviders } from '../protocol/chunk-have.ts';
import { type FetchProgress, fetchManifest } from '../protocol/chunk-fetch.ts';
import type { PeerHost } from '../protocol/host.ts';
import { LinkDivergedError } from './peer-link.ts';

/** Files by the name they go by in a manifest (a plain file name: no folder). */
export type NamedFiles = Record<string, string>;

export interface ChunkFetch {
  /** Pins the manifest under this label (from its first chunk, so a partial fetch survives gc and resumes). */
  label: string;
  onProgress?: (p: FetchProgress) => void;
  signal?: AbortSignal;
}

const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

export class PeerChunks {
  private constructor(
    private readonly host: PeerHost,
    readonly store: ChunkStore,
    private readonly server: ChunkServer,
    private readonly providers: ChunkProviders,
  ) {}

  static async start(host: PeerHost, team: string, dataDir: string): Promise<PeerChunks> {
    const store = await ChunkStore.open(path.join(dataDir, 'chunks'));
    const server = new ChunkServer(host.libp2p, store);
    await server.start();
    const providers = new ChunkProviders(host, { topic: `sat/${team}/chunks` });
    providers.start();
    return new PeerChunks(host, store, server, providers);
  }

  /**
   * Keeps `files` for the team to fetch, pinned under `label` (what the label held before is let go), and announces
   * them; the manifest's CID and the bytes of its entries.
   */
  async offer(files: NamedFiles, label: string): Promise<{ cid: CID; bytes: number }> {
    const before = this.store.pins().get(label);
    const entries = Object.entries(files).map(([name, source]) => ({ name, source }));
    const { cid, manifest } = await this.store.put(entries, { pin: label });
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
    const { manifest } = await fetchManifest(
      this.host.libp2p,
      this.store,
      cid,
      [...from, ...this.providers.providers(cid)],
      {
        pin: partial,
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      },
    );
    const before = this.store.pins().get(o.label);
    this.store.pin(cid, o.label);
    this.store.unpin(partial);
    await this.providers.announce(cid, manifestBytes(manifest));
    if (before && !before.equals(cid)) await this.letGo(before);
    return manifest;
  }

  /** Writes each entry of `manifest` to its own file in `dir`; the files by name. */
  async materialize(manifest: Manifest, dir: string): Promise<NamedFiles> {
    const files: NamedFiles = {};
    for (const { name } of manifest.entries) {
      if (!PLAIN_NAME.test(name) || name in files)
        throw new LinkDivergedError(`a fetched manifest names an entry '${name.slice(0, 80)}': not a plain file name`);
      files[name] = path.join(dir, name);
      await this.store.materialize(manifest, files[name], { entry: name });
    }
    return files;
  }

  /** Lets go of what `label` pins: no longer announced, and its chunks deleted unless another pin needs them. */
  async release(label: string): Promise<void> {
    const cid = this.store.pins().get(label);
    if (!cid) return;
    this.store.unpin(label);
    await this.letGo(cid);
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
