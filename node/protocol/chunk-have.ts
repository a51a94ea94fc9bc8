// Who serves which manifest (docs/design §4.13): a peer gossips a small signed ChunkHave on a topic
// the caller names for each manifest it serves in full, at once and again every period, and learns
// the others' from the same topic. A provider not heard for three periods is forgotten, so a peer
// that went away stops being asked. Gossip rather than a query: a newcomer hears every provider
// within one period without asking each peer it knows, and a provider's repeat costs ~60 bytes.
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { type Have, decodeHave, encodeHave } from './chunk-codec.ts';
import type { PeerHost } from './host.ts';

/** How often a peer repeats its announcements by default. */
export const HAVE_PERIOD_MS = 5_000;
/** Manifests tracked at once (the most recently heard kept), and providers tracked per manifest. */
const MAX_MANIFESTS = 1024;
const MAX_PROVIDERS = 256;

export interface ChunkProvidersInit {
  /** The gossip topic (e.g. `sat/<team>/chunks`); this object is its one subscriber on the host. */
  topic: string;
  /** Repeat period (default HAVE_PERIOD_MS); a provider is forgotten after three silent periods. */
  periodMs?: number;
  /** Called when a peer is first heard to serve a manifest. */
  onProvider?: (manifest: CID, peer: PeerId, have: Have) => void;
}

/** Announces the manifests this peer serves, and tracks who else serves which. */
export class ChunkProviders {
  /** Manifest → provider → when last heard (ms) and what it said. */
  private readonly heard = new Map<string, Map<string, { peer: PeerId; at: number; have: Have }>>();
  private readonly mine = new Map<string, Have>();
  private timer: NodeJS.Timeout | undefined;
  private readonly periodMs: number;

  constructor(
    private readonly host: PeerHost,
    private readonly init: ChunkProvidersInit,
  ) {
    this.periodMs = init.periodMs ?? HAVE_PERIOD_MS;
  }

  start(): void {
    this.host.subscribe(this.init.topic, decodeHave, (have, from) => this.hear(have, from));
    this.timer = setInterval(() => void this.repeat(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.host.unsubscribe(this.init.topic);
  }

  /** Announces that this peer serves every chunk of `manifest` (`bytes` in all): now and every period. */
  async announce(manifest: CID, bytes: number): Promise<void> {
    const have = { manifest, bytes };
    this.mine.set(manifest.toString(), have);
    await this.host.publish(this.init.topic, encodeHave(have)).catch(() => 0);
  }

  /** Stops announcing `manifest` (others forget this peer for it within three periods). */
  withdraw(manifest: CID): void {
    this.mine.delete(manifest.toString());
  }

  /** The peers heard within three periods to serve `manifest`, most recently heard first. */
  providers(manifest: CID): PeerId[] {
    const byPeer = this.heard.get(manifest.toString());
    if (!byPeer) return [];
    const since = Date.now() - 3 * this.periodMs;
    return [...byPeer.values()]
      .filter((p) => p.at >= since)
      .sort((a, b) => b.at - a.at)
      .map((p) => p.peer);
  }

  private async repeat(): Promise<void> {
    for (const have of this.mine.values()) await this.host.publish(this.init.topic, encodeHave(have)).catch(() => 0);
    this.forget();
  }

  private hear(have: Have, from: PeerId): void {
    const key = have.manifest.toString();
    let byPeer = this.heard.get(key);
    if (!byPeer) {
      if (this.heard.size >= MAX_MANIFESTS) this.forget(true);
      byPeer = new Map();
      this.heard.set(key, byPeer);
    }
    const peer = from.toString();
    const first = !byPeer.has(peer);
    if (first && byPeer.size >= MAX_PROVIDERS) return;
    byPeer.delete(peer); // re-inserted last: the map stays in order of hearing
    byPeer.set(peer, { peer: from, at: Date.now(), have });
    if (first) {
      try {
        this.init.onProvider?.(have.manifest, from, have);
      } catch {
        // the caller's callback is its own concern
      }
    }
  }

  /** Drops providers silent for three periods (and, when `room` is asked, the least recently heard manifest). */
  private forget(room = false): void {
    const since = Date.now() - 3 * this.periodMs;
    for (const [key, byPeer] of this.heard) {
      for (const [peer, p] of byPeer) if (p.at < since) byPeer.delete(peer);
      if (byPeer.size === 0) this.heard.delete(key);
    }
    if (room && this.heard.size >= MAX_MANIFESTS) {
      let oldest: [string, number] | undefined;
      for (const [key, byPeer] of this.heard) {
        const last = Math.max(...[...byPeer.values()].map((p) => p.at));
        if (!oldest || last < oldest[1]) oldest = [key, last];
      }
      if (oldest) this.heard.delete(oldest[0]);
    }
  }
}
