// `npm run bench:protocol`: the network layer on loopback, one JSON line.
//   handoff_p50_ms / handoff_p99_ms   a token hand-off (TokenPass over /sat/token/1 and its ack)
//   dissemination_N_peers_MBps        shard bytes delivered per second to every one of N peers, each
//                                     fetching the shard by CID from its producer (/sat/blocks/1)
//   overhead_bytes_per_shard          bytes a fetch adds to the shard's own (request, status, framing)
//   raw_tcp_MBps, dissemination_ratio the physical ceiling (one plain TCP socket) and the 2-peer rate's share of it
import net from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { contentId } from '../node/protocol/cid.ts';
import { PeerHost } from '../node/protocol/host.ts';
import { TokenPassing, type Turn } from '../node/protocol/token-passing.ts';

const SHARD_BYTES = 16 * 1024 * 1024;
const HANDOFFS = 200;

const start = async () =>
  PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

async function handoffs(): Promise<number[]> {
  const hosts = [await start(), await start()];
  await hosts[1].dial(hosts[0].addresses[0]);
  const team = contentId(new TextEncoder().encode('bench team')).toString();
  const waiting: ((t: Turn) => void)[] = [];
  const peers = new Map<number, PeerId>(hosts.map((h, slot) => [slot, h.peerId]));
  const tokens = hosts.map(
    (h, slot) =>
      new TokenPassing(h, {
        team,
        slot,
        slots: 2,
        peers: () => peers,
        stage: () => 0,
        onTurn: (t) => waiting[slot]?.(t),
      }),
  );
  for (const t of tokens) await t.start();
  const times: number[] = [];
  for (let stage = 1; stage <= HANDOFFS; stage++) {
    const turn = new Promise<Turn>((resolve) => {
      waiting[1] = resolve;
    });
    tokens.forEach((t) => t.beginStage({ stage, order: [0, 1], peers }));
    const t0 = performance.now();
    await tokens[0].handOff(0);
    await turn;
    times.push(performance.now() - t0);
  }
  for (const t of tokens) await t.stop();
  await Promise.all(hosts.map((h) => h.stop()));
  return times.slice(10); // the first hand-offs open streams and warm up
}

async function dissemination(peers: number): Promise<number> {
  const producer = await start();
  const fetchers = await Promise.all(Array.from({ length: peers }, start));
  for (const f of fetchers) await f.dial(producer.addresses[0]);
  const shard = new Uint8Array(SHARD_BYTES).map((_, i) => (i * 31) & 0xff);
  const cid = producer.blocks.store.put(shard);
  const t0 = performance.now();
  await Promise.all(fetchers.map((f) => f.blocks.fetch(producer.peerId, cid)));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([producer, ...fetchers].map((h) => h.stop()));
  return (SHARD_BYTES * peers) / 1e6 / seconds;
}

/** One plain TCP socket on loopback: the ceiling the protocol is measured against. */
async function rawTcp(): Promise<number> {
  const total = 256 * 1024 * 1024;
  const chunk = Buffer.alloc(1024 * 1024, 7);
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      let got = 0;
      const t0 = performance.now();
      socket.on('data', (d) => {
        got += d.length;
        if (got >= total) {
          resolve(total / 1e6 / ((performance.now() - t0) / 1000));
          socket.destroy();
          server.close();
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const client = net.connect(port, '127.0.0.1', async () => {
        for (let sent = 0; sent < total; sent += chunk.length) {
          if (!client.write(chunk)) await new Promise((r) => client.once('drain', r));
        }
        client.end();
      });
      client.on('error', reject);
    });
  });
}

const times = await handoffs();
const two = await dissemination(2);
const seven = await dissemination(7);
const raw = await rawTcp();
// Per fetch: the request frame (varint length + CID bytes), the status frame (2 bytes) and the
// block's length prefix (varint of the shard size).
const varint = (n: number) => Math.max(1, Math.ceil(Math.log2(n + 1) / 7));
const cidBytes = contentId(Uint8Array.of(0)).bytes.length;
const overhead = varint(cidBytes) + cidBytes + 2 + varint(SHARD_BYTES);
const r = (x: number, d = 1) => Number(x.toFixed(d));
process.stdout.write(
  `${JSON.stringify({
    handoff_p50_ms: r(quantile(times, 0.5), 2),
    handoff_p99_ms: r(quantile(times, 0.99), 2),
    dissemination_2_peers_MBps: r(two),
    dissemination_7_peers_MBps: r(seven),
    overhead_bytes_per_shard: overhead,
    raw_tcp_MBps: r(raw),
    dissemination_ratio: r(two / raw, 3),
    shard_MB: SHARD_BYTES / 1e6,
    handoffs: times.length,
  })}\n`,
);
process.exit(0);
