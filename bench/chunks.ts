// `node --import=tsx bench/chunks.ts [--mb 2400] [--parallel 8]`: moving a large state (random bytes
// in a file, by default the 2.4 GB of a Qwen3-0.6B agent in float32) between real libp2p peers on
// loopback over /sat/chunks/1, each peer in its own process. One JSON line:
//   put_MBps                  splitting the file into 1 MiB chunks in a store (hash, write)
//   two_peers_MBps            one provider to one fetcher: chunks fetched, hash-checked and stored
//   four_peers_MBps           three providers to one fetcher
//   materialize_MBps          the fetched chunks assembled back into one file (each hashed again)
//   raw_tcp_MBps              the same bytes read from the file and sent over one plain TCP socket
//   two_peers_ratio, four_peers_ratio   each case's share of raw TCP
//   fetcher_cpu_s             the fetcher's CPU seconds in the two cases (a peer's work runs on one thread)
//   provider_cpu_s            each provider process's CPU seconds over its life (both cases; ~1 s is its start)
//   served_per_provider       blocks each provider served (both cases)
//   identical                 whether the materialized file is the source, byte for byte
// The providers serve one store folder (read-only), so the page cache holds one copy. Dirty pages are
// flushed (`sync`) before each case, so no case pays for the writeback of the one before.
import { type ChildProcessWithoutNullStreams, execSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import type { CID } from 'multiformats/cid';
import { CHUNK_BYTES } from '../node/protocol/chunk-codec.ts';
import { DEFAULT_PARALLEL, fetchManifest } from '../node/protocol/chunk-fetch.ts';
import { ChunkStore } from '../node/protocol/chunk-store.ts';
import { PeerHost } from '../node/protocol/host.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MB = arg('mb', 2400);
const PARALLEL = arg('parallel', DEFAULT_PARALLEL);
const BYTES = MB * 1e6;
const HERE = path.dirname(new URL(import.meta.url).pathname);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sat-bench-chunks-'));
const rate = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  execSync('sync');
  const t0 = performance.now();
  const out = await f();
  return [out, performance.now() - t0];
};

function writeSource(file: string): void {
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(4 * 1024 * 1024);
  for (let at = 0; at < BYTES; at += block.length) {
    crypto.randomFillSync(block);
    fs.writeSync(fd, block, 0, Math.min(block.length, BYTES - at));
  }
  fs.closeSync(fd);
}

async function sha256(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const piece of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) hash.update(piece);
  return hash.digest('hex');
}

interface Child {
  child: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
}

function launch(args: string[]): Child {
  const child = spawn(process.execPath, ['--import=tsx', path.join(HERE, 'chunk-peer.ts'), ...args]);
  child.stderr.pipe(process.stderr);
  return { child, lines: readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
}

async function provider(storeDir: string): Promise<Child & { peerId: string; address: string }> {
  const c = launch(['serve', storeDir]);
  const up = JSON.parse((await c.lines.next()).value as string) as { peerId: string; addresses: string[] };
  return { ...c, peerId: up.peerId, address: up.addresses[0] };
}

/** One fetch of `cid` into a fresh store from `providers`: the store, the milliseconds, the fetcher's CPU seconds. */
async function fetchCase(
  cid: CID,
  providers: { peerId: string; address: string }[],
): Promise<[ChunkStore, number, number]> {
  const host = await PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  for (const p of providers) await host.dial(p.address);
  const store = await ChunkStore.open(fs.mkdtempSync(path.join(root, 'fetcher-')));
  const cpu0 = process.cpuUsage();
  const [, ms] = await timed(() =>
    fetchManifest(
      host.libp2p,
      store,
      cid,
      providers.map((p) => peerIdFromString(p.peerId)),
      { parallel: PARALLEL },
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  await host.stop();
  return [store, ms, (cpu.user + cpu.system) / 1e6];
}

/** The file's bytes over one plain TCP socket from another process: the ceiling on loopback. */
async function rawTcp(file: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  execSync('sync');
  // Timed from the connection, so the sender's start (a process) is not counted.
  const done = new Promise<[number, number]>((resolve) =>
    server.once('connection', (socket) => {
      const t0 = performance.now();
      let got = 0;
      socket.on('data', (d) => {
        got += d.length;
      });
      socket.on('end', () => resolve([got, performance.now() - t0]));
    }),
  );
  const sender = launch(['tcp', file, String(port)]);
  const [got, ms] = await done;
  sender.child.kill();
  server.close();
  if (got !== BYTES) throw new Error(`raw TCP moved ${got} of ${BYTES} bytes`);
  return ms;
}

try {
  const source = path.join(root, 'state.bin');
  writeSource(source);
  const providerDir = path.join(root, 'provider');
  const providerStore = await ChunkStore.open(providerDir);
  const [{ cid }, putMs] = await timed(() => providerStore.put([{ name: 'state', source }]));
  const providers = [await provider(providerDir), await provider(providerDir), await provider(providerDir)];

  const [two, twoMs, twoCpu] = await fetchCase(cid, providers.slice(0, 1));
  fs.rmSync(two.dir, { recursive: true });
  const [four, fourMs, fourCpu] = await fetchCase(cid, providers);
  const out = path.join(root, 'out.bin');
  const [, materializeMs] = await timed(() => four.materialize(cid, out));
  const identical = (await sha256(out)) === (await sha256(source));
  fs.rmSync(out);
  fs.rmSync(four.dir, { recursive: true });
  for (const p of providers) p.child.stdin.end();
  const served = await Promise.all(providers.map(async (p) => JSON.parse((await p.lines.next()).value as string)));
  const rawMs = await rawTcp(source);

  const r = (x: number, d = 1) => Number(x.toFixed(d));
  const raw = rate(BYTES, rawMs);
  process.stdout.write(
    `${JSON.stringify({
      mb: MB,
      chunk_MiB: CHUNK_BYTES / 2 ** 20,
      parallel: PARALLEL,
      put_MBps: r(rate(BYTES, putMs)),
      two_peers_MBps: r(rate(BYTES, twoMs)),
      four_peers_MBps: r(rate(BYTES, fourMs)),
      materialize_MBps: r(rate(BYTES, materializeMs)),
      raw_tcp_MBps: r(raw),
      two_peers_ratio: r(rate(BYTES, twoMs) / raw, 3),
      four_peers_ratio: r(rate(BYTES, fourMs) / raw, 3),
      fetcher_cpu_s: [r(twoCpu), r(fourCpu)],
      provider_cpu_s: served.map((s) => r(s.cpu_s)),
      served_per_provider: served.map((s) => s.served),
      identical,
    })}\n`,
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
process.exit(0);
