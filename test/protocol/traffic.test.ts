// Bytes by protocol: two real hosts on loopback; a block fetched over /sat/blocks/1 is counted out on the
// server and in on the fetcher, at least its size each way, and the counters stay bounded; a stream it cannot
// count is left alone, and the metrics it drops can be awaited.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { MAX_COUNTER_KEYS } from '../../node/protocol/counters.ts';
import { BLOCKS_PROTOCOL } from '../../node/protocol/blocks.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { newTraffic, trackStream, trafficMetrics } from '../../node/protocol/traffic.ts';

test('a block fetched between two hosts is counted by protocol: out on the server, in on the fetcher', async (t) => {
  const [a, b] = await Promise.all(
    [0, 1].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  try {
    const block = new Uint8Array(100_000).map((_, i) => i % 251);
    const cid = a.blocks.store.put(block);
    await b.dial(a.addresses[0]);
    t.deepEqual(await b.blocks.fetch(a.peerId, cid), block);
    t.true((a.traffic.bytesOut.get(BLOCKS_PROTOCOL) ?? 0) >= block.length, JSON.stringify([...a.traffic.bytesOut]));
    t.true((b.traffic.bytesIn.get(BLOCKS_PROTOCOL) ?? 0) >= block.length, JSON.stringify([...b.traffic.bytesIn]));
    t.true((b.traffic.bytesOut.get(BLOCKS_PROTOCOL) ?? 0) > 0, 'the request');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('streams of ever new protocol ids count under "other" past the cap', (t) => {
  const traffic = newTraffic();
  for (let i = 0; i < MAX_COUNTER_KEYS + 10; i++) {
    const stream = { protocol: `/p/${i}`, onData: () => {}, send: () => true };
    trackStream(traffic, stream as never);
    (stream as unknown as { send: (d: Uint8Array) => boolean }).send(new Uint8Array(3));
  }
  t.is(traffic.bytesOut.size, MAX_COUNTER_KEYS);
  t.is(traffic.bytesOut.get('other'), 3 * 11);
});

test('a stream without onData and send is left alone and counts nothing', (t) => {
  const traffic = newTraffic();
  const stream = { protocol: '/p/1', onData: undefined, send: 'no function' };
  t.notThrows(() => trackStream(traffic, stream as never));
  t.is(stream.send, 'no function');
  t.is(traffic.bytesIn.size + traffic.bytesOut.size, 0);
});

test('the metrics a service registers do nothing, and awaiting one settles', async (t) => {
  const metrics = trafficMetrics(newTraffic())();
  const counter = metrics.registerCounter('libp2p_dials_total') as unknown as Record<string, unknown> & {
    increment(): unknown;
  };
  t.notThrows(() => counter.increment());
  t.is(counter.then, undefined);
  t.is((counter as unknown as Record<symbol, unknown>)[Symbol.iterator], undefined);
  const pending = Symbol('pending');
  const settled = await Promise.race([
    (async () => await counter)(),
    new Promise((resolve) => setTimeout(() => resolve(pending), 200)),
  ]);
  t.is(settled, counter);
});
