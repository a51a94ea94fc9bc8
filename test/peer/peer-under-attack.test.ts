// A running `sat-peer start` member meets an attacker over real streams and gossip: a client written
// with published js-libp2p packages only (no code of this project; messages encoded by hand) sends text
// that is not UTF-8, length prefixes that never end, half-written frames, token passes from a peer that
// holds no slot, and the same again from fresh identities. The member forwards none of it, resets each
// bad stream at once, keeps its memory bounded, and keeps answering an honest peer's pings and block
// requests without a stall.
import test from 'ava';
import '../../node/protocol/polyfill.ts'; // Node 20 lacks Promise.withResolvers, which js-libp2p uses
import fs from 'node:fs';
import path from 'node:path';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { type Ping, ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { sat } from '../cli/run-cli.ts';
import { smallTeam } from '../sim/small-team.ts';
import { exited, runBin } from './bin-process.ts';

type Outsider = Libp2p<{ ping: Ping; pubsub: ReturnType<ReturnType<typeof gossipsub>> }>;

const outsider = async (): Promise<Outsider> =>
  (await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
  })) as unknown as Outsider;

// Protobuf by hand: varints, and fields of wire type 0 (varint) and 2 (bytes).
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
  return [...out, n];
};
const num = (field: number, n: number) => [...varint(field << 3), ...varint(n)];
const bytes = (field: number, b: number[] | Uint8Array) => [...varint((field << 3) | 2), ...varint(b.length), ...b];
const utf8 = (s: string) => new TextEncoder().encode(s);

/** A Heartbeat of slot 1, stage 0, whose model field holds `model`'s bytes as they are. */
const heartbeat = (team: string, model: number[]) =>
  Uint8Array.from([
    ...num(1, 5),
    ...bytes(2, utf8(team)),
    ...num(3, 1),
    ...num(4, 0),
    ...bytes(5, model),
    ...num(6, Date.now()),
  ]);
/** An Announce of a stage-1 update block. */
const announce = (team: string, cid: Uint8Array) =>
  Uint8Array.from([
    ...num(1, 5),
    ...bytes(2, utf8(team)),
    ...num(3, 1),
    ...num(4, 1),
    ...bytes(5, cid),
    ...num(7, 100),
  ]);
/** A SlotState of slot 1 after stage 1. */
const slotState = (team: string, cid: Uint8Array) =>
  Uint8Array.from([
    ...num(1, 5),
    ...bytes(2, utf8(team)),
    ...num(3, 1),
    ...num(4, 1),
    ...bytes(5, cid),
    ...num(6, 100),
  ]);
/** A TokenPass handing `position` of `stage` from slot 1 to slot 0. */
const tokenPass = (team: string, stage: number, position: number) =>
  Uint8Array.from([
    ...num(1, 5),
    ...bytes(2, utf8(team)),
    ...num(3, stage),
    ...num(4, position),
    ...num(5, 1),
    ...num(6, 0),
    ...num(8, Date.now()),
  ]);

const NOT_UTF8 = [[0xc0, 0xaf], [0xc3, 0x28], [0xe2, 0x82, 0x28], [0xf0, 0x28, 0x8c, 0x28], [0x80]];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
const closed = (s: Stream) => s.status !== 'open' || s.writeStatus !== 'writable';

/** Writes `chunk` on `stream` every few ms until the member resets it or `until`: how long it stayed open. */
async function pour(stream: Stream, chunk: Uint8Array, until: number): Promise<number> {
  const t0 = Date.now();
  try {
    while (Date.now() < until && !closed(stream)) {
      if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(2_000) });
      await sleep(5);
    }
  } catch {
    // reset under the write: what the member should do
  }
  stream.abort(new Error('done'));
  return Date.now() - t0;
}

/** Whether `stream` is closed by the other end within `ms`. */
async function closedWithin(stream: Stream, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (closed(stream) || stream.readStatus !== 'readable') return true;
    await sleep(50);
  }
  return false;
}

test('a member under malformed traffic forwards none of it, resets bad streams at once, and keeps serving', async (t) => {
  t.timeout(240_000);
  const { dir, config } = smallTeam(1);
  const teamFile = path.join(dir, 'the-team.yaml');
  const created = sat('team', 'create', '--config', config, '--out', teamFile, '--json');
  t.is(created.code, 0, created.stderr);
  const member = runBin('sat-peer.js', [
    'start',
    '--team',
    teamFile,
    '--model',
    'tiny-weak',
    '--slot',
    '0',
    '--data-dir',
    path.join(dir, 'member'),
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--threads',
    '1',
    '--memory',
    '2',
    '--http',
    '127.0.0.1:0',
    '--json',
  ]);
  const others: Outsider[] = [];
  try {
    const joined = await member.next('joined');
    const metricsUrl = new URL('metrics', (await member.next('http')).url as string);
    const team = joined.team as string;
    const address = multiaddr((joined.addresses as string[])[0]);
    const [observer, attacker] = [await outsider(), await outsider()];
    others.push(observer, attacker);
    const memberId = (await observer.dial(address)).remotePeer as PeerId;
    await attacker.dial(address);
    const beats = `sat/${team}/heartbeats`;
    const fromAttacker: Uint8Array[] = [];
    observer.services.pubsub.addEventListener('message', (e) => {
      const m = e.detail;
      if (m.topic === beats && m.type === 'signed' && m.from.equals(attacker.peerId)) fromAttacker.push(m.data);
    });
    for (const o of [observer, attacker]) o.services.pubsub.subscribe(beats);
    const meshed = async (o: Outsider) => {
      for (let i = 0; i < 200 && !o.services.pubsub.getSubscribers(beats).some((p) => p.equals(memberId)); i++)
        await sleep(100);
    };
    await Promise.all([meshed(observer), meshed(attacker)]);

    // 1. Gossip: a well-formed heartbeat is forwarded to the observer; none whose text is not UTF-8 is.
    await attacker.services.pubsub.publish(beats, heartbeat(team, [...utf8('well-formed é')]));
    for (let i = 0; i < 100 && fromAttacker.length === 0; i++) await sleep(100);
    t.is(fromAttacker.length, 1, 'the member forwards a well-formed heartbeat');
    // Well-formed messages of every other kind from a peer that holds no slot: each is refused and counted.
    const someCid = CID.createV1(0x55, await sha256.digest(utf8('nothing'))).bytes;
    const pubsub = attacker.services.pubsub;
    await pubsub.publish(`sat/${team}/blocks`, announce(team, someCid));
    await pubsub.publish(`sat/${team}/states`, slotState(team, someCid));
    await pubsub.publish(`sat/${team}/token`, tokenPass(team, 1, 1));
    for (let round = 0; round < 4; round++)
      for (const bad of NOT_UTF8) await attacker.services.pubsub.publish(beats, heartbeat(team, [0x61, ...bad]));

    // 2. Length prefixes that never end, on 8 streams of each protocol for 8 s, while the observer pings.
    const rssBefore = rssMb(member.child.pid!);
    const until = Date.now() + 8_000;
    const ff = new Uint8Array(1024).fill(0xff);
    let streams = 0;
    const open: number[] = [];
    const flood = async (protocol: string) => {
      while (Date.now() < until) {
        const s = await attacker.dialProtocol(memberId, protocol).catch(() => undefined);
        if (!s) {
          await sleep(20);
          continue;
        }
        streams++;
        open.push(await pour(s, ff, until));
      }
    };
    const pings: number[] = [];
    const pinging = (async () => {
      while (Date.now() < until) {
        pings.push(await observer.services.ping.ping(memberId, { signal: AbortSignal.timeout(10_000) }));
        await sleep(100);
      }
    })();
    await Promise.all([
      ...Array.from({ length: 8 }, () => flood('/sat/blocks/1')),
      ...Array.from({ length: 8 }, () => flood('/sat/token/1')),
      pinging,
    ]);
    await sleep(1_000);
    const grown = rssMb(member.child.pid!) - rssBefore;
    const sorted = [...open].sort((a, b) => a - b);
    t.log(
      `${streams} flooding streams, open a median ${sorted[sorted.length >> 1]} ms; ` +
        `pings max ${Math.max(...pings).toFixed(0)} ms of ${pings.length}; RSS +${grown.toFixed(0)} MB`,
    );
    t.true(streams >= 32, 'each flooding stream was reset, and another opened');
    t.true(sorted[sorted.length >> 1] < 1_000, 'the median flooding stream was reset within a second');
    t.true(grown < 200, `RSS grew ${grown.toFixed(0)} MB`);
    t.true(Math.max(...pings) < 1_500, `no ping stalled: ${pings.map((p) => p.toFixed(0))}`);

    // 3. Half-written frames: a prefix announcing 40 bytes, 3 of them, then silence: dropped after a few seconds.
    for (const protocol of ['/sat/blocks/1', '/sat/token/1']) {
      const s = await attacker.dialProtocol(memberId, protocol);
      s.send(Uint8Array.of(40, 1, 2, 3));
      t.true(await closedWithin(s, 10_000), `${protocol}: a half-written frame is not waited on for ever`);
      s.abort(new Error('done'));
    }

    // 4. Token passes from a peer that holds no slot, for a far stage and for the next: none is acked.
    const acked = async (o: Outsider, stage: number) => {
      const lp = lpStream(await o.dialProtocol(memberId, '/sat/token/1'));
      await lp.write(tokenPass(team, stage, 1));
      return lp.read({ signal: AbortSignal.timeout(5_000) }).then(
        () => true,
        () => false,
      );
    };
    let acks = 0;
    for (let i = 0; i < 20; i++) if (await acked(attacker, i % 2 ? 4_000_000_000 + i : 1)) acks++;
    t.is(acks, 0, "no outsider's token pass is acked");

    // 5. The same from fresh identities, one after another.
    for (let i = 0; i < 8; i++) {
      const fresh = await outsider();
      others.push(fresh);
      await fresh.dial(address);
      fresh.services.pubsub.subscribe(beats);
      await sleep(300);
      await Promise.resolve(fresh.services.pubsub.publish(beats, heartbeat(team, [0xc0, 0xaf]))).catch(() => undefined);
      t.false(await acked(fresh, 1));
      await pour(await fresh.dialProtocol(memberId, '/sat/blocks/1'), ff, Date.now() + 1_000);
      await fresh.stop();
    }

    // The member forwarded nothing malformed, and still serves an honest peer: a ping, and the team's manifest.
    await sleep(2_000);
    t.is(fromAttacker.length, 1, 'no heartbeat that is not UTF-8 reached the observer');
    t.true((await observer.services.ping.ping(memberId)) < 1_000);
    const lp = lpStream(await observer.dialProtocol(memberId, '/sat/blocks/1'));
    await lp.write(CID.parse(team).bytes);
    t.deepEqual([...(await lp.read()).subarray()], [1], 'the manifest is found');
    t.true((await lp.read()).byteLength > 100);
    t.is(member.child.exitCode, null, 'the member runs on');

    // Its /metrics counts each refusal by kind and reason, and by the sender.
    const metrics = await (await fetch(metricsUrl)).text();
    const count = (labels: string) =>
      Number(new RegExp(`^sat_rejected_messages_total\\{${labels}\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    t.true(count('source="heartbeats",reason="malformed"') >= 1, 'heartbeats that are not UTF-8');
    t.true(count('source="blocks",reason="non-member"') >= 1, "an outsider's announcement");
    t.true(count('source="states",reason="non-member"') >= 1, "an outsider's slot state");
    t.true(count('source="token",reason="refused"') >= 20 + 8, "the outsiders' token passes");
    t.true(count('source="blocks",reason="bad-request"') >= streams / 4, 'the flooding block streams');
    const against = Number(
      new RegExp(`^sat_rejected_messages_by_sender_total\\{sender="${attacker.peerId}"\\} (\\d+)$`, 'm').exec(
        metrics,
      )?.[1],
    );
    t.true(against >= streams / 2, `${against} refusals counted against the attacker`);
  } finally {
    await Promise.all(others.map(async (o) => o.stop()).map((p) => p.catch(() => undefined)));
    member.child.kill('SIGTERM');
    await exited(member.child);
  }
});
