// Real libp2p hosts on loopback: signed gossip reaches every subscriber through the mesh; a message
// its decoder refuses is rejected, counted by reason and sender, lowers the sender's score and never
// reaches the handler, and the peers go on.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { type Decoded, PeerHost } from '../../node/protocol/host.ts';
import { until } from './until.ts';

const TOPIC = 'sat/test/notes';
const text = new TextDecoder();
/** A stand-in schema for the test: UTF-8 text starting with "note:". */
const decodeNote = (bytes: Uint8Array): Decoded<string> => {
  const s = text.decode(bytes);
  if (s.startsWith('old:')) return { ok: false, reason: 'stale-stage' };
  return s.startsWith('note:') ? { ok: true, message: s.slice(5) } : { ok: false, reason: 'malformed' };
};

test('three peers: gossip is delivered to all; an invalid message is rejected, counted and scored against its sender', async (t) => {
  const hosts = await Promise.all(
    [0, 1, 2].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  try {
    const [a, b, c] = hosts;
    const got = hosts.map(() => [] as { note: string; from: PeerId }[]);
    hosts.forEach((h, i) => h.subscribe(TOPIC, decodeNote, (note, from) => got[i].push({ note, from })));
    // A line: a - b - c; c hears a only through b's mesh.
    await b.dial(a.addresses[0]);
    await c.dial(b.addresses[0]);
    await until(
      'subscriptions',
      () => a.subscribers(TOPIC).length >= 1 && b.subscribers(TOPIC).length >= 2 && c.subscribers(TOPIC).length >= 1,
    );
    let sent = 0;
    // Gossip meshes form on heartbeats: publish until c has heard a.
    await until('delivery through the mesh', () => {
      if (got[2].length === 0 && sent < 200) void a.publish(TOPIC, new TextEncoder().encode(`note:hello ${sent++}`));
      return got[2].length > 0 && got[1].length > 0;
    });
    t.true(got[1][0].from.equals(a.peerId) && got[2][0].from.equals(a.peerId), 'the signed sender is a');
    t.regex(got[2][0].note, /^hello \d+$/);

    await a.publish(TOPIC, new TextEncoder().encode('garbage'));
    await until('the rejection', () => (b.counters.get(TOPIC)!.rejected.get('malformed') ?? 0) > 0);
    t.is(b.counters.get(TOPIC)!.rejectedFrom.get(a.peerId.toString()), 1);
    t.false(got[1].some((g) => g.note.includes('garbage')));
    await until('the score to drop', () => b.score(a.peerId) < 0, 5_000);
    // Invalid gossip is not forwarded: c never hears of it.
    t.is(c.counters.get(TOPIC)!.rejected.get('malformed') ?? 0, 0);
    // The peers go on: a later valid note still arrives.
    const before = got[1].length;
    await until('a later note', () => {
      void b.publish(TOPIC, new TextEncoder().encode('note:still here'));
      return got[0].some((g) => g.note === 'still here') && got[1].length >= before;
    });
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test('a message of an earlier stage is counted and dropped, but not scored against its sender: a peer ahead hears repeats', async (t) => {
  const hosts = await Promise.all(
    [0, 1].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  try {
    const [a, b] = hosts;
    const got: string[] = [];
    a.subscribe(TOPIC, decodeNote, () => undefined);
    b.subscribe(TOPIC, decodeNote, (note) => got.push(note));
    await b.dial(a.addresses[0]);
    await until('subscriptions', () => a.subscribers(TOPIC).length === 1 && b.subscribers(TOPIC).length === 1);
    for (let i = 0; i < 20; i++) await a.publish(TOPIC, new TextEncoder().encode(`old:repeat ${i}`));
    await until('the stale messages counted', () => (b.counters.get(TOPIC)!.rejected.get('stale-stage') ?? 0) === 20);
    t.is(b.counters.get(TOPIC)!.rejectedFrom.get(a.peerId.toString()) ?? 0, 0);
    await new Promise((r) => setTimeout(r, 1500)); // a score heartbeat
    t.true(b.score(a.peerId) >= 0, `a's score on b: ${b.score(a.peerId)}`);
    await until('a later note', () => {
      void a.publish(TOPIC, new TextEncoder().encode('note:still heard'));
      return got.includes('still heard');
    });
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test('a peer whose subscriptions this side lost (a restart not yet reaped) is heard again once reconnected', async (t) => {
  const [a, b] = await Promise.all(
    [0, 1].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  try {
    a.subscribe(TOPIC, decodeNote, () => undefined);
    b.subscribe(TOPIC, decodeNote, () => undefined);
    await b.dial(a.addresses[0]);
    await until('subscriptions', () => a.subscribers(TOPIC).length === 1);
    // What a's gossipsub holds after b came back on a new connection while a kept the old one: b on no topic.
    (a.libp2p.services.pubsub as unknown as { topics: Map<string, Set<string>> }).topics
      .get(TOPIC)!
      .delete(b.peerId.toString());
    t.is(a.subscribers(TOPIC).length, 0);
    await a.reconnect(b.peerId);
    await until('b heard again', () => a.subscribers(TOPIC).some((p) => p.equals(b.peerId)));
    t.pass();
  } finally {
    await Promise.all([a, b].map((h) => h.stop()));
  }
});

test('bad host settings are one clear error each', async (t) => {
  const privateKey = await generateKeyPair('Ed25519');
  await t.throwsAsync(PeerHost.start({ privateKey, listen: ['localhost:4001'] }), {
    name: 'HostConfigError',
    message: /listen address 'localhost:4001' is not a multiaddr/,
  });
  await t.throwsAsync(PeerHost.start({ privateKey, bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }), {
    name: 'HostConfigError',
    message: /names no peer: end it with \/p2p\/<peer id>/,
  });
});

test('with nat a peer takes a reservation on a server peer, and others reach it through that relay', async (t) => {
  const relay = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    server: true,
  });
  const natted = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    nat: true,
    bootstrap: [relay.addresses[0]],
  });
  const other = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  try {
    await until('a relay address', () => natted.addresses.some((a) => a.includes('/p2p-circuit/')));
    const circuit = natted.addresses.find((a) => a.includes('/p2p-circuit/'))!;
    t.true(circuit.startsWith(relay.addresses[0].split('/p2p/')[0]) && circuit.endsWith(`/p2p/${natted.peerId}`));
    await other.dial(circuit);
    t.true(other.libp2p.getConnections(natted.peerId).some((c) => c.remoteAddr.toString().includes('/p2p-circuit')));
  } finally {
    await Promise.all([other, natted, relay].map((h) => h.stop()));
  }
});
