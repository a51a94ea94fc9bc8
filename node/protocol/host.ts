// The peer's libp2p host (docs/design §4.1): TCP, noise, yamux, identify, ping, gossipsub with signed
// messages (StrictSign), bootstrap peers dialed with backoff (bootstrap-dial.ts) and kad-dht for
// discovery, and — behind `nat` — the circuit
// relay v2 client, autonat and dcutr for peers behind NAT. The only module that calls createLibp2p.
//
// Blocks (shards, log-prob updates) are served and fetched by CID on /sat/blocks/1 (blocks.ts).
// Topics carry typed messages: each subscription names its decoder, which validates before anything
// is delivered; a message that fails is rejected (gossipsub then scores its sender down), counted by
// reason and sender, and never reaches the handler or throws out of it.
import './polyfill.ts';
import { autoNAT } from '@libp2p/autonat';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { dcutr } from '@libp2p/dcutr';
import { type GossipSub, type Message, StrictSign, TopicValidatorResult, gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { noise } from '@libp2p/noise';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { BlockService, BlockStore } from './blocks.ts';
import { BootstrapDialer } from './bootstrap-dial.ts';
import { bump } from './counters.ts';
import { HostConfigError } from './errors.ts';
import { listenError } from './listen-error.ts';
import { type Traffic, newTraffic, trafficMetrics } from './traffic.ts';

/** What a decoder makes of a message's bytes: the message, or why it was refused. */
export type Decoded<T> = { ok: true; message: T } | { ok: false; reason: string };

export interface HostInit {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on (default: every interface, a free TCP port). */
  listen?: string[];
  /** Multiaddrs to announce instead of the listening ones (a public address behind a port forward). */
  announce?: string[];
  /**
   * Multiaddrs (with /p2p/<id>) of bootstrap peers, then of peers known from the last run: dialed at start, retried
   * with backoff while they fail.
   */
  bootstrap?: string[];
  /** Peers known from the last run (with /p2p/<id>): dialed like the bootstrap peers, after them. */
  known?: string[];
  /** Where a failed bootstrap attempt is reported, one line each (default: stderr). */
  log?: (line: string) => void;
  /** Serve the DHT and relay other peers' connections (a well-connected, reachable peer: a bootstrap). */
  server?: boolean;
  /** Be reached through relays (a reservation on a server peer), with autonat and hole punching: peers behind NAT. */
  nat?: boolean;
  /** How often connections are pinged; a peer that misses a ping is dropped (default 2000 ms). */
  pingIntervalMs?: number;
}

/** Per topic: messages delivered, and refused by reason and by sender. */
export interface TopicCounters {
  accepted: number;
  rejected: Map<string, number>;
  rejectedFrom: Map<string, number>;
}

/** Gossipsub caps what it sends at 4 MiB a frame (docs/design §4.1): bigger payloads travel over streams. */
export const MAX_GOSSIP_BYTES = 4 * 1024 * 1024 - 64 * 1024;

const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0'];
/**
 * The least time a ping may take before its connection is taken for dead. A ping opens a stream
 * first, so it takes two round trips: at 1 s, any link slower than 250 ms each way lost every
 * connection (and every DHT lookup with it) on its first ping.
 */
const PING_MIN_TIMEOUT_MS = 3000;

/**
 * Gossipsub scoring of a team topic: only invalid messages count (P4, squared, decaying by half
 * every second); the terms that reward traffic or punish a quiet mesh are off, since team topics
 * are quiet between stages.
 */
const TOPIC_SCORE = {
  topicWeight: 1,
  timeInMeshWeight: 0,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 1,
  firstMessageDeliveriesWeight: 0,
  firstMessageDeliveriesDecay: 0.5,
  firstMessageDeliveriesCap: 1,
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 1,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.5,
};

type Services = { identify: unknown; ping: unknown; pubsub: GossipSub; dht: unknown } & Record<string, unknown>;

/** A started libp2p host with validated topics. */
export class PeerHost {
  readonly counters = new Map<string, TopicCounters>();
  private readonly listeners = new Map<string, (evt: CustomEvent<Message>) => void>();

  private constructor(
    readonly libp2p: Libp2p<Services>,
    readonly blocks: BlockService,
    private readonly dialer: BootstrapDialer,
    /** Bytes in and out so far, by protocol. */
    readonly traffic: Traffic,
  ) {}

  static async start(init: HostInit): Promise<PeerHost> {
    const addrs = (what: string, list: string[] = []) =>
      list.map((a) => {
        try {
          return multiaddr(a).toString();
        } catch (err) {
          throw new HostConfigError(
            `${what} '${a}' is not a multiaddr (${(err as Error).message}); write it like /ip4/203.0.113.7/tcp/4001`,
          );
        }
      });
    const listen = addrs('listen address', init.listen ?? DEFAULT_LISTEN);
    const announce = addrs('announce address', init.announce);
    const peers = addrs('bootstrap address', init.bootstrap);
    for (const p of peers)
      if (!p.includes('/p2p/'))
        throw new HostConfigError(
          `bootstrap address '${p}' names no peer: end it with /p2p/<peer id> as the bootstrap prints it`,
        );
    const interval = init.pingIntervalMs ?? 2000;
    const traffic = newTraffic();
    const node = await createLibp2p({
      privateKey: init.privateKey,
      addresses: { listen: init.nat ? [...listen, '/p2p-circuit'] : listen, announce },
      // Every peer can dial through a relay; only a peer behind NAT listens through one.
      transports: [tcp(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      metrics: trafficMetrics(traffic),
      connectionManager: { inboundConnectionThreshold: 1000 },
      // A frozen peer is noticed within seconds; a slow link's round trips, or a busy machine's slow answers (up to 5
      // s), are not taken for death.
      connectionMonitor: {
        pingInterval: interval,
        pingTimeout: {
          minTimeout: Math.max(PING_MIN_TIMEOUT_MS, interval / 2),
          maxTimeout: Math.max(5000, 2 * interval),
        },
      },
      services: {
        identify: identify(),
        // A ping over a slow link may still be closing when the next begins: let a few overlap.
        ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictSign,
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          // Team peers often share an address (a simulation, a lab): no penalty for that.
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
        // Teams run on LANs and loopback too: keep private addresses in DHT records.
        dht: kadDHT({ clientMode: !init.server, protocol: '/sat/kad/1.0.0', peerInfoMapper: passthroughMapper }),
        ...(init.server ? { relay: circuitRelayServer() } : {}),
        ...(init.nat ? { autonat: autoNAT(), dcutr: dcutr() } : {}),
      },
    }).catch((err: unknown) => {
      throw listenError(err) ?? err;
    });
    const blocks = new BlockService(node, new BlockStore());
    await blocks.start();
    // Bootstrap peers are dialed in the background: a peer whose bootstrap is down keeps running.
    const known = new Set((init.known ?? []).filter((a) => !peers.includes(a)));
    const dialer = new BootstrapDialer(node, {
      addresses: [...new Set(peers), ...known],
      known,
      ...(init.log ? { log: init.log } : {}),
    });
    void dialer.start();
    return new PeerHost(node as unknown as Libp2p<Services>, blocks, dialer, traffic);
  }

  get peerId(): PeerId {
    return this.libp2p.peerId;
  }

  /** The addresses others can dial, each ending in /p2p/<this peer>. */
  get addresses(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  private get pubsub(): GossipSub {
    return this.libp2p.services.pubsub;
  }

  /**
   * Subscribes to `topic`: every message is decoded and validated by `decode` before `handle` sees
   * it; a refused one is rejected to gossipsub (which scores its sender down) and counted — one of
   * an earlier stage than the receiver's is only ignored (counted, not scored). One subscriber per
   * topic; `unsubscribe` ends it.
   */
  subscribe<T>(
    topic: string,
    decode: (bytes: Uint8Array) => Decoded<T>,
    handle: (message: T, from: PeerId) => void,
  ): void {
    if (this.listeners.has(topic)) throw new HostConfigError(`topic '${topic}' already has a subscriber on this host`);
    const c: TopicCounters = { accepted: 0, rejected: new Map(), rejectedFrom: new Map() };
    this.counters.set(topic, c);
    const decoded = new WeakMap<Uint8Array, T>();
    (
      this.pubsub as unknown as { score: { params: { topics: Record<string, typeof TOPIC_SCORE> } } }
    ).score.params.topics[topic] = TOPIC_SCORE;
    this.pubsub.topicValidators.set(topic, (from, msg) => {
      let d: Decoded<T>;
      try {
        d = decode(msg.data);
      } catch {
        d = { ok: false, reason: 'decoder-threw' };
      }
      if (d.ok) {
        decoded.set(msg.data, d.message);
        return TopicValidatorResult.Accept;
      }
      bump(c.rejected, d.reason);
      // Stale is no fault: a peer a stage ahead hears the stage before repeated. Ignored, unscored.
      if (d.reason === 'stale-stage') return TopicValidatorResult.Ignore;
      bump(c.rejectedFrom, from.toString());
      return TopicValidatorResult.Reject;
    });
    const listener = (evt: CustomEvent<Message>) => {
      const msg = evt.detail;
      if (msg.topic !== topic || msg.type !== 'signed') return;
      const message = decoded.get(msg.data);
      if (message === undefined) return;
      c.accepted++;
      try {
        handle(message, msg.from);
      } catch {
        // A handler's failure is the handler's to report; the network loop goes on.
      }
    };
    this.listeners.set(topic, listener);
    this.pubsub.addEventListener('message', listener);
    this.pubsub.subscribe(topic);
  }

  /** Ends the subscription to `topic` (its validator and handler go; its counters stay readable). */
  unsubscribe(topic: string): void {
    const listener = this.listeners.get(topic);
    if (!listener) return;
    this.pubsub.removeEventListener('message', listener);
    this.pubsub.topicValidators.delete(topic);
    this.pubsub.unsubscribe(topic);
    this.listeners.delete(topic);
  }

  /** Publishes encoded bytes on a topic; the number of peers it went to. */
  async publish(topic: string, bytes: Uint8Array): Promise<number> {
    if (bytes.length > MAX_GOSSIP_BYTES)
      throw new HostConfigError(
        `a ${bytes.length}-byte message is over gossip's ${MAX_GOSSIP_BYTES} bytes: send it over a stream and gossip its CID`,
      );
    return (await this.pubsub.publish(topic, bytes)).recipients.length;
  }

  /** Peers known to be subscribed to `topic`. */
  subscribers(topic: string): PeerId[] {
    return this.pubsub.getSubscribers(topic);
  }

  /** The gossipsub score of a peer (negative after invalid messages). */
  score(peer: PeerId): number {
    return (this.pubsub as unknown as { getScore(id: string): number }).getScore(peer.toString());
  }

  /**
   * Closes every connection to `peer` and dials it again: gossipsub tells a peer its subscriptions once, on a new
   * connection, so a peer that came back (a restart under the same id) before its old connection was reaped on this
   * side is heard again only this way.
   */
  async reconnect(peer: PeerId): Promise<void> {
    await this.libp2p.hangUp(peer);
    await this.libp2p.dial(peer, { signal: AbortSignal.timeout(10_000) });
  }

  async dial(address: string): Promise<void> {
    await this.libp2p.dial(multiaddr(address));
  }

  /** Failed bootstrap attempts so far, by address. */
  get bootstrapFailures(): ReadonlyMap<string, number> {
    return this.dialer.failures;
  }

  async stop(): Promise<void> {
    this.dialer.stop();
    await this.libp2p.stop();
  }
}
