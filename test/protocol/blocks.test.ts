// Blocks by CID between real peers on loopback: a late peer fetches what it missed, checked against
// the hash; a missing block, a lying peer and a garbage request are each handled without harm.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { lpStream } from '@libp2p/utils';
import { BLOCKS_PROTOCOL, BlockStore } from '../../node/protocol/blocks.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { PeerHost } from '../../node/protocol/host.ts';

/** Byte equality without ava's deep diff, which takes seconds per MiB. */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

const start = async () =>
  PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });

test('a block is fetched by CID, kept, and served on; a missing one is a clear error', async (t) => {
  const [a, b, c] = await Promise.all([start(), start(), start()]);
  try {
    const shard = new Uint8Array(9 * 1024 * 1024).map((_, i) => (i * 7) & 0xff); // over lpStream's default 4 MiB buffer
    const cid = a.blocks.store.put(shard);
    await b.dial(a.addresses[0]);
    t.true(same(await b.blocks.fetch(a.peerId, cid), shard));
    t.true(b.blocks.store.has(cid));
    // c joins late and knows only b: b serves what it fetched.
    await c.dial(b.addresses[0]);
    t.true(same(await c.blocks.fetch(b.peerId, cid), shard));
    t.is(a.blocks.counters.served, 1);
    t.is(b.blocks.counters.served, 1);
    const absent = contentId(Uint8Array.of(1, 2, 3));
    await t.throwsAsync(c.blocks.fetch(b.peerId, absent), { name: 'BlockFetchError', message: /does not have block/ });
  } finally {
    await Promise.all([a, b, c].map((h) => h.stop()));
  }
});

test('bytes that do not hash to the CID are refused and counted; a garbage request is reset and the server goes on', async (t) => {
  const [liar, asker] = await Promise.all([start(), start()]);
  try {
    const real = Uint8Array.of(9, 9, 9);
    const cid = contentId(real);
    // The liar answers every request with other bytes.
    await liar.blocks.stop();
    await liar.libp2p.handle(BLOCKS_PROTOCOL, async (stream) => {
      const lp = lpStream(stream);
      await lp.read();
      await lp.writeV([Uint8Array.of(1), Uint8Array.of(6, 6, 6)]);
      await stream.close();
    });
    await asker.dial(liar.addresses[0]);
    await t.throwsAsync(asker.blocks.fetch(liar.peerId, cid), {
      name: 'BlockFetchError',
      message: /sent 3 bytes that are not block/,
    });
    t.is(asker.blocks.counters.corruptFrom.get(liar.peerId.toString()), 1);
    t.false(asker.blocks.store.has(cid));

    // Garbage into an honest server: counted, that stream reset, the next request served.
    asker.blocks.store.put(real);
    const raw = await liar.libp2p.dialProtocol(asker.peerId, BLOCKS_PROTOCOL);
    await lpStream(raw).write(Uint8Array.of(0xff, 0x00, 0x13));
    const until = Date.now() + 5000;
    while (asker.blocks.counters.badRequests === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    t.is(asker.blocks.counters.badRequests, 1);
    await liar.libp2p.unhandle(BLOCKS_PROTOCOL);
    await liar.blocks.start();
    t.deepEqual(await liar.blocks.fetch(asker.peerId, cid), real);
  } finally {
    await Promise.all([liar, asker].map((h) => h.stop()));
  }
});

test('a store forgets its oldest blocks past its budget, but never a pinned one', (t) => {
  const store = new BlockStore(250);
  const block = (x: number) => new Uint8Array(100).fill(x);
  const pinned = store.put(block(9), true);
  const [first, second, third] = [1, 2, 3].map((x) => store.put(block(x)));
  t.false(store.has(first), 'the oldest went past the budget');
  t.true(store.has(second) && store.has(third));
  for (let x = 4; x < 20; x++) store.put(block(x));
  t.true(same(store.get(pinned)!, block(9)), 'the pinned block stays, outside the budget');
});
