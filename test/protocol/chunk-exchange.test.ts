// Chunked content between real libp2p peers on loopback (/sat/chunks/1): one provider and three, a
// provider that lies and one that goes away mid-transfer, a fetch interrupted and resumed after a
// restart, malformed requests, and providers learned from gossiped haves.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { CID } from 'multiformats/cid';
import { Uint8ArrayList } from 'uint8arraylist';
import { ChunkProviders } from '../../node/protocol/chunk-have.ts';
import { type ChunkFetchCounters, fetchManifest, newFetchCounters } from '../../node/protocol/chunk-fetch.ts';
import { CHUNKS_PROTOCOL, ChunkServer } from '../../node/protocol/chunk-server.ts';
import { ChunkStore } from '../../node/protocol/chunk-store.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { varint } from '../../node/protocol/frames.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { tempDir } from '../temp-dir.ts';
import { until } from './until.ts';

const KiB = 1024;
/** Small chunks, so that a few MiB make many of them. */
const CHUNK = 64 * KiB;

interface Peer {
  host: PeerHost;
  store: ChunkStore;
  server: ChunkServer;
}

async function peer(dir = tempDir('chunk-peer-')): Promise<Peer> {
  const host = await PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  const store = await ChunkStore.open(dir);
  const server = new ChunkServer(host.libp2p, store);
  await server.start();
  return { host, store, server };
}

/** `data` put in each of `peers`' stores (the same manifest, so the same CID); the manifest's CID. */
async function seed(peers: Peer[], data: Uint8Array): Promise<CID> {
  const cids = await Promise.all(
    peers.map(async (p) => (await p.store.put([{ name: 'state', source: data }], { chunkBytes: CHUNK })).cid),
  );
  return cids[0];
}

async function identical(store: ChunkStore, cid: CID, data: Uint8Array): Promise<boolean> {
  const out = path.join(tempDir('chunk-out-'), 'state.bin');
  await store.materialize(cid, out);
  return Buffer.compare(fs.readFileSync(out), data) === 0;
}

const stopAll = (peers: Peer[]) => Promise.all(peers.map((p) => p.host.stop()));

test('two peers: a state is fetched chunk by chunk, checked, stored, and served on to a third', async (t) => {
  const peers = await Promise.all([peer(), peer(), peer()]);
  const [a, b, c] = peers;
  try {
    const data = crypto.randomBytes(4 * 1024 * KiB + 123);
    const cid = await seed([a], data);
    await b.host.dial(a.host.addresses[0]);
    const seen: number[] = [];
    const { manifest, counters } = await fetchManifest(b.host.libp2p, b.store, cid, [a.host.peerId], {
      onProgress: (p) => seen.push(p.bytesDone),
    });
    t.is(counters.chunksFetched, 65);
    t.is(counters.bytesFetched, data.length);
    t.is(seen.length, 65);
    t.is(seen.at(-1), data.length);
    t.true(await identical(b.store, cid, data));
    t.is(manifest.entries[0].bytes, data.length);
    t.is(a.server.counters.served, 66, 'the manifest and every chunk');

    // c knows only b, which serves what it fetched.
    await c.host.dial(b.host.addresses[0]);
    await fetchManifest(c.host.libp2p, c.store, cid, [b.host.peerId]);
    t.true(await identical(c.store, cid, data));

    // Fetching what the store has asks nobody.
    const again = await fetchManifest(c.host.libp2p, c.store, cid, [b.host.peerId]);
    t.is(again.counters.chunksFetched, 0);

    const absent = contentId(Uint8Array.of(1, 2, 3));
    await c.host.dial(a.host.addresses[0]);
    const err = await t.throwsAsync(fetchManifest(c.host.libp2p, c.store, absent, [a.host.peerId, b.host.peerId]), {
      name: 'ChunkFetchError',
      message: /^no provider could supply manifest .* \(2 asked: .*does not have it; .*does not have it\)/,
    });
    t.is((err as unknown as { missing: number }).missing, 1);
  } finally {
    await stopAll(peers);
  }
});

test('three providers to one fetcher: each serves a share, and the result is byte-identical', async (t) => {
  const peers = await Promise.all([peer(), peer(), peer(), peer()]);
  const [fetcher, ...providers] = peers;
  try {
    const data = crypto.randomBytes(6 * 1024 * KiB);
    const cid = await seed(providers, data);
    for (const p of providers) await fetcher.host.dial(p.host.addresses[0]);
    const { counters } = await fetchManifest(
      fetcher.host.libp2p,
      fetcher.store,
      cid,
      providers.map((p) => p.host.peerId),
      { parallel: 4 },
    );
    t.is(counters.chunksFetched, 96);
    for (const p of providers) t.true(p.server.counters.served > 0, 'every provider served chunks');
    // Each chunk once, and the manifest; near the end a chunk may be asked twice (at most a window per provider).
    const served = providers.reduce((n, p) => n + p.server.counters.served, 0);
    t.true(served >= 97 && served <= 97 + 3 * 4, `${served} served`);
    t.true(await identical(fetcher.store, cid, data));
  } finally {
    await stopAll(peers);
  }
});

/**
 * A provider written here with the published libp2p stream API: it answers /sat/chunks/1 from its store, but flips
 * a byte of the first chunk it is asked for (its manifest it sends whole). The corrupted chunk's CID is kept.
 */
async function liar(host: PeerHost, store: ChunkStore, manifest: CID, lied: CID[]): Promise<void> {
  await host.libp2p.handle(CHUNKS_PROTOCOL, (stream: Stream) => {
    const buf = new Uint8ArrayList();
    let answering = Promise.resolve();
    stream.addEventListener('message', (evt) => {
      buf.append(evt.data);
      while (buf.byteLength > 0 && buf.byteLength >= 1 + buf.get(0)) {
        const request = buf.subarray(1, 1 + buf.get(0));
        buf.consume(1 + request.byteLength);
        answering = answering
          .then(async () => {
            const cid = CID.decode(request);
            const block = await store.get(cid);
            if (!block) return void stream.send(Uint8Array.of(0));
            const out = Uint8Array.from(block);
            if (lied.length === 0 && !cid.equals(manifest)) {
              out[0] ^= 0xff;
              lied.push(cid);
            }
            stream.send(new Uint8ArrayList(Uint8Array.of(1), varint(out.length), out));
          })
          .catch(() => undefined); // the fetcher may reset the stream once it has all it needs
      }
    });
    stream.addEventListener('remoteCloseWrite', () => void answering.then(() => stream.close()));
  });
}

test('a provider that sends a corrupted chunk is counted and not asked for it again; another supplies it', async (t) => {
  const peers = await Promise.all([peer(), peer(), peer()]);
  const [fetcher, honest, lying] = peers;
  try {
    const data = crypto.randomBytes(2 * 1024 * KiB);
    const cid = await seed([honest, lying], data);
    await lying.server.stop();
    const lied: CID[] = [];
    await liar(lying.host, lying.store, cid, lied);
    for (const p of [honest, lying]) await fetcher.host.dial(p.host.addresses[0]);
    const { counters } = await fetchManifest(fetcher.host.libp2p, fetcher.store, cid, [
      lying.host.peerId,
      honest.host.peerId,
    ]);
    t.is(lied.length, 1);
    t.is(counters.corruptFrom.get(lying.host.peerId.toString()), 1);
    t.is(counters.corruptFrom.size, 1);
    t.is(counters.chunksFetched, 32);
    t.true(fetcher.store.has(lied[0]), 'the chunk came from the honest provider');
    t.true(await identical(fetcher.store, cid, data));
  } finally {
    await stopAll(peers);
  }
});

test('a provider that goes away mid-transfer: its outstanding chunks go to the others', async (t) => {
  const peers = await Promise.all([peer(), peer(), peer(), peer()]);
  const [fetcher, ...providers] = peers;
  const leaving = providers[1];
  try {
    const data = crypto.randomBytes(8 * 1024 * KiB);
    const cid = await seed(providers, data);
    for (const p of providers) await fetcher.host.dial(p.host.addresses[0]);
    let stopped: Promise<void> | undefined;
    const { counters } = await fetchManifest(
      fetcher.host.libp2p,
      fetcher.store,
      cid,
      providers.map((p) => p.host.peerId),
      {
        parallel: 4,
        onProgress: (p) => {
          if (p.chunksDone === 10) stopped = leaving.host.stop();
        },
      },
    );
    await stopped;
    t.is(counters.chunksFetched, 128);
    t.true((counters.failedFrom.get(leaving.host.peerId.toString()) ?? 0) >= 1, 'the provider that left is counted');
    t.true(leaving.server.counters.served < 128);
    t.true(await identical(fetcher.store, cid, data));
  } finally {
    await stopAll(peers.filter((p) => p !== leaving));
  }
});

test('an interrupted fetch, resumed after a restart, fetches only the chunks it lacks', async (t) => {
  const dir = tempDir('chunk-peer-');
  const peers = await Promise.all([peer(), peer(dir)]);
  const [provider, fetcher] = peers;
  try {
    const data = crypto.randomBytes(4 * 1024 * KiB);
    const cid = await seed([provider], data);
    await fetcher.host.dial(provider.host.addresses[0]);
    const abort = new AbortController();
    const first = newFetchCounters();
    await t.throwsAsync(
      fetchManifest(fetcher.host.libp2p, fetcher.store, cid, [provider.host.peerId], {
        signal: abort.signal,
        counters: first,
        pin: 'state',
        onProgress: (p) => {
          if (p.chunksDone >= 20) abort.abort();
        },
      }),
      { any: true, name: 'AbortError' },
    );
    t.true(first.chunksFetched >= 20 && first.chunksFetched < 64, `${first.chunksFetched} chunks before the abort`);

    // A restart: the folder is all that is left, and gc keeps the pinned partial fetch.
    const reopened = await ChunkStore.open(dir);
    await reopened.gc();
    const manifest = (await reopened.manifest(cid))!;
    t.is(reopened.missing(manifest).length, 64 - first.chunksFetched);
    const second: ChunkFetchCounters = (
      await fetchManifest(fetcher.host.libp2p, reopened, cid, [provider.host.peerId], { pin: 'state' })
    ).counters;
    t.is(second.chunksFetched, 64 - first.chunksFetched, 'only the missing chunks');
    t.true(await identical(reopened, cid, data));
  } finally {
    await stopAll(peers);
  }
});

test('a fetch no provider can finish names how many chunks are missing, and keeps what arrived', async (t) => {
  const peers = await Promise.all([peer(), peer()]);
  const [provider, fetcher] = peers;
  try {
    const data = crypto.randomBytes(1024 * KiB);
    const { cid, manifest } = await provider.store.put([{ name: 'state', source: data }], { chunkBytes: CHUNK });
    // The provider loses three chunks (a disk that failed).
    for (const c of manifest.entries[0].chunks.slice(5, 8)) fs.rmSync(path.join(provider.store.dir, c.toString()));
    const reopened = await ChunkStore.open(provider.store.dir);
    await provider.server.stop();
    const server = new ChunkServer(provider.host.libp2p, reopened);
    await server.start();
    await fetcher.host.dial(provider.host.addresses[0]);
    const err = await t.throwsAsync(fetchManifest(fetcher.host.libp2p, fetcher.store, cid, [provider.host.peerId]), {
      name: 'ChunkFetchError',
      message: /^3 of 16 chunks of manifest .* could not be fetched from 1 providers .*fetch again/,
    });
    t.is((err as unknown as { missing: number }).missing, 3);
    t.is(fetcher.store.missing(manifest).length, 3, 'the other 13 are kept');
    t.is(server.counters.missing, 3);
  } finally {
    await stopAll(peers);
  }
});

/** Opens a raw /sat/chunks/1 stream and sends `bytes`; resolves once the server has reset it. */
async function sendRaw(from: PeerHost, to: PeerHost, bytes: Uint8Array): Promise<void> {
  const stream = await from.libp2p.dialProtocol(to.peerId, CHUNKS_PROTOCOL);
  stream.send(bytes);
  await until('the server to reset the stream', () => stream.status !== 'open', 10_000);
}

test('malformed requests are refused, counted by reason and peer, and the server goes on serving', async (t) => {
  const peers = await Promise.all([peer(), peer(), peer()]);
  const [server, attacker, honest] = peers;
  try {
    const data = crypto.randomBytes(512 * KiB);
    const cid = await seed([server], data);
    await attacker.host.dial(server.host.addresses[0]);
    const rejected = server.server.counters.rejected;
    const count = (reason: string) => rejected.get(reason) ?? 0;

    await sendRaw(attacker.host, server.host, new Uint8Array(16).fill(0xff)); // a length prefix that never ends
    t.is(count('prefix-too-long'), 1);
    await sendRaw(attacker.host, server.host, Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x08)); // 2 GiB asked for
    t.is(count('prefix-too-long'), 2);
    await sendRaw(attacker.host, server.host, Uint8Array.of(0x7f)); // 127 bytes: over a CID's 64
    t.is(count('too-large'), 1);
    await sendRaw(attacker.host, server.host, Uint8Array.of(5, 1, 2, 3, 4, 5)); // no CID
    t.is(count('bad-cid'), 1);
    const request = new Uint8ArrayList(varint(cid.bytes.length), cid.bytes).subarray();
    const flood = new Uint8Array(request.length * 600);
    for (let i = 0; i < 600; i++) flood.set(request, i * request.length);
    await sendRaw(attacker.host, server.host, flood); // 600 requests sent ahead, never read
    t.is(count('flood'), 1);
    t.is(server.server.counters.rejectedFrom.get(attacker.host.peerId.toString()), 5);

    // The server goes on: for others, and for the same peer asking properly.
    await honest.host.dial(server.host.addresses[0]);
    await fetchManifest(honest.host.libp2p, honest.store, cid, [server.host.peerId]);
    t.true(await identical(honest.store, cid, data));
    await fetchManifest(attacker.host.libp2p, attacker.store, cid, [server.host.peerId]);
    t.true(await identical(attacker.store, cid, data));
  } finally {
    await stopAll(peers);
  }
});

test('providers are learned from gossiped haves and forgotten when they fall silent', async (t) => {
  const peers = await Promise.all([peer(), peer(), peer()]);
  const [a, b, newcomer] = peers;
  const topic = 'sat/test-team/chunks';
  const tracked = peers.map((p) => new ChunkProviders(p.host, { topic, periodMs: 300 }));
  try {
    for (const tr of tracked) tr.start();
    await b.host.dial(a.host.addresses[0]);
    await newcomer.host.dial(a.host.addresses[0]);
    await newcomer.host.dial(b.host.addresses[0]);
    await until('subscriptions', () => newcomer.host.subscribers(topic).length === 2);
    const data = crypto.randomBytes(1024 * KiB);
    const cid = await seed([a, b], data);
    await tracked[0].announce(cid, data.length);
    await tracked[1].announce(cid, data.length);
    await until('both providers heard', () => tracked[2].providers(cid).length === 2);
    t.deepEqual(tracked[2].providers(contentId(Uint8Array.of(9))), []);

    await fetchManifest(newcomer.host.libp2p, newcomer.store, cid, tracked[2].providers(cid));
    t.true(await identical(newcomer.store, cid, data));

    tracked[1].withdraw(cid);
    await until('the silent provider forgotten', () => tracked[2].providers(cid).length === 1, 5_000);
    t.deepEqual(tracked[2].providers(cid).map(String), [a.host.peerId.toString()]);
  } finally {
    for (const tr of tracked) tr.stop();
    await stopAll(peers);
  }
});
