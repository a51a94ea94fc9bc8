// A peer's chunked states (docs/design §4.13): the store under <data-dir>/chunks, served to the team on
// /sat/chunks/1 and announced on sat/<team>/chunks. An agent's tensors handed to a newcomer go this way, whatever
// their size: the incumbent offers them as a pinned manifest, the newcomer fetches its chunks from every peer that
// has them, resuming across restarts, and serves them on.
import path from 'node:path';
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { manifestBytes } from '../protocol/chunk-codec.ts';
import { ChunkStore } from '../protocol/chunk-store.ts';
import { ChunkServer } from '../protocol/chunk-server.ts';
import { ChunkProviders } from '../protocol/chunk-have.ts';
import { type FetchProgress, fetchManifest } from '../protocol/chunk-fetch.ts';
import type { PeerHost } from '../protocol/host.ts';

const ENTRY = 'tensors.safetensors';

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

  /** Keeps `file` (pinned under `label`) for the team to fetch, and announces it; its manifest's CID. */
  async offer(file: string, label: string): Promise<CID> {
    const { cid, manifest } = await this.store.put([{ name: ENTRY, source: file }]);
    this.store.pin(cid, label);
    await this.providers.announce(cid, manifestBytes(manifest));
    return cid;
  }

  /**
   * The file of manifest `cid` written to `outFile`: its chunks fetched from `from` and every peer heard to serve it
   * (those already here are kept: a fetch resumes), pinned under `label`, then served on.
   */
  async fetch(
    cid: CID,
    from: readonly PeerId[],
    outFile: string,
    o: { label: string; onProgress?: (p: FetchProgress) => void; signal?: AbortSignal },
  ): Promise<void> {
    const { manifest } = await fetchManifest(
      this.host.libp2p,
      this.store,
      cid,
      [...from, ...this.providers.providers(cid)],
      {
        pin: o.label,
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      },
    );
    await this.store.materialize(manifest, outFile, { entry: ENTRY });
    await this.providers.announce(cid, manifestBytes(manifest));
  }

  async stop(): Promise<void> {
    this.providers.stop();
    await this.server.stop();
  }
}
