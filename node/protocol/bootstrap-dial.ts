// Joining the network through bootstrap peers without dying when they are down: every address is
// dialed in turn; a failure is one line naming the address and why (refused, timeout, wrong peer id,
// or the transport's own words), and the address is retried with exponential backoff for as long as
// the peer runs; a connection made is one line too, and a bootstrap connection that drops later is
// dialed again the same way. The peers this peer knew on its last run (known-peers.ts) are dialed alike.
import type { Libp2p, PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';

export interface BootstrapDialInit {
  /** Multiaddrs with /p2p/<id>: the bootstrap list, then known peers. */
  addresses: string[];
  /** Those of `addresses` that are peers known from the last run, not bootstrap peers: named so in the lines. */
  known?: ReadonlySet<string>;
  /** One line per failed attempt, and one per connection made (default: stderr). */
  log?: (line: string) => void;
  /** First retry delay; it doubles per failure up to maxBackoffMs (defaults 1 s and 60 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A dial that takes longer fails as a timeout (default 10 s). */
  timeoutMs?: number;
}

/** Why a dial failed, in the words a user can act on. */
export function dialFailure(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; errors?: unknown[] };
  // libp2p reports a peer's failed addresses together; name the first reason.
  if (Array.isArray(e.errors) && e.errors.length > 0) return dialFailure(e.errors[0]);
  const text = e.message ?? String(err);
  if (e.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(text))
    return 'refused (nothing listens there: is that peer running?)';
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /timed? ?out|aborted/i.test(text))
    return 'timeout (no answer: a firewall, or a wrong address)';
  if (/does not match expected remote identity/.test(text))
    return 'wrong peer id (another peer answers at that address: check the /p2p/ part)';
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return 'unreachable (no route to that host)';
  return text.split('\n')[0];
}

/**
 * Dials every address until it connects (one line when it does), retrying failures with backoff; `stop()` ends the
 * retries.
 */
export class BootstrapDialer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Failed attempts so far, by address. */
  readonly failures = new Map<string, number>();

  constructor(
    private readonly libp2p: Libp2p,
    private readonly init: BootstrapDialInit,
  ) {}

  /** Starts dialing; resolves once every address has been tried once. */
  async start(): Promise<void> {
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect);
    await Promise.all(this.init.addresses.map((a) => this.attempt(a)));
  }

  /** A bootstrap peer that went away is dialed again (after the first backoff, so a restart has time). */
  private readonly onDisconnect = (evt: CustomEvent<PeerId>) => {
    if (this.stopped) return;
    for (const address of this.init.addresses) {
      if (!address.endsWith(`/p2p/${evt.detail}`)) continue;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.attempt(address);
      }, this.init.backoffMs ?? 1000);
      this.timers.add(timer);
    }
  };

  stop(): void {
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect);
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private kind(address: string): string {
    return this.init.known?.has(address) ? 'known peer' : 'bootstrap';
  }

  private say(line: string): void {
    (this.init.log ?? ((l) => process.stderr.write(`${l}\n`)))(line);
  }

  private async attempt(address: string): Promise<void> {
    if (this.stopped) return;
    try {
      await this.libp2p.dial(multiaddr(address), { signal: AbortSignal.timeout(this.init.timeoutMs ?? 10_000) });
      this.failures.delete(address);
      if (!this.stopped) this.say(`sat-peer: ${this.kind(address)} ${address}: connected`);
    } catch (err) {
      if (this.stopped) return;
      const n = (this.failures.get(address) ?? 0) + 1;
      this.failures.set(address, n);
      const wait = Math.min(this.init.maxBackoffMs ?? 60_000, (this.init.backoffMs ?? 1000) * 2 ** (n - 1));
      this.say(
        `sat-peer: ${this.kind(address)} ${address}: ${dialFailure(err)}; retrying in ${(wait / 1000).toFixed(1)} s`,
      );
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.attempt(address);
      }, wait);
      this.timers.add(timer);
    }
  }
}
