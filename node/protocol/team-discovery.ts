// Finding the other peers of a team (docs/design §4.7): the team id is a CID, so every member provides it
// in the DHT (kept alive through the bootstrap peers, which serve the DHT) and looks up the other
// providers, dialing those it is not connected to — again every interval, so late joiners and peers
// that restarted are found too.
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import type { PeerHost } from './host.ts';

/** How often a member re-announces itself and looks for the others. */
export const DISCOVERY_INTERVAL_MS = 10_000;
/**
 * How long one round may take. It may well outlast the interval: over a slow or lossy link (or on a
 * busy machine) a DHT lookup takes seconds, and a round cut short every time finds no one.
 */
const ROUND_TIMEOUT_MS = 60_000;

export class TeamDiscovery {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly stopping = new AbortController();
  /** Providers found and dialed so far. */
  readonly found = new Set<string>();

  constructor(
    private readonly host: PeerHost,
    private readonly team: CID,
    private readonly intervalMs = DISCOVERY_INTERVAL_MS,
  ) {}

  start(): void {
    const round = () => {
      this.running ??= this.round().finally(() => {
        this.running = undefined;
      });
    };
    round();
    this.timer = setInterval(round, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.running;
  }

  /** One announcement and lookup; failures (no DHT peers yet) wait for the next round. */
  private async round(): Promise<void> {
    const { libp2p } = this.host;
    const signal = AbortSignal.any([
      AbortSignal.timeout(Math.max(this.intervalMs, ROUND_TIMEOUT_MS)),
      this.stopping.signal,
    ]);
    await libp2p.contentRouting.provide(this.team, { signal }).catch(() => undefined);
    try {
      for await (const p of libp2p.contentRouting.findProviders(this.team, { signal })) {
        if (p.id.equals(libp2p.peerId) || this.connected(p.id)) continue;
        await libp2p.dial(p.id, { signal }).then(
          () => this.found.add(p.id.toString()),
          () => undefined,
        );
      }
    } catch {
      // a lookup cut short, or before the DHT has peers: the next round retries
    }
  }

  private connected(peer: PeerId): boolean {
    return this.host.libp2p.getConnections(peer).length > 0;
  }
}
