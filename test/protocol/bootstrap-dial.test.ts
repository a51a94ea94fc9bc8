// Bootstrap peers that are down do not stop a peer: each failed dial is one line naming the address
// and why, retried with backoff, while a live bootstrap connects; known peers survive a restart.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { PeerHost } from '../../node/protocol/host.ts';
import { loadKnownPeers, saveKnownPeers } from '../../node/protocol/known-peers.ts';
import { until } from './until.ts';
import { tempDir } from '../temp-dir.ts';

const start = async (bootstrap: string[] = [], log?: (line: string) => void, known: string[] = []) =>
  PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    known,
    ...(log ? { log } : {}),
  });

test('a refused and a wrong-peer-id bootstrap are reported and retried; the live one connects', async (t) => {
  const live = await start();
  const stranger = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
  const port = live.addresses[0].split('/')[4];
  const refused = `/ip4/127.0.0.1/tcp/1/p2p/${await stranger()}`;
  const impostor = `/ip4/127.0.0.1/tcp/${port}/p2p/${await stranger()}`;
  const lines: string[] = [];
  // Peers known from a last run: one of them the live bootstrap again, one gone.
  const gone = `/ip4/127.0.0.1/tcp/2/p2p/${await stranger()}`;
  const peer = await start([refused, impostor, live.addresses[0]], (l) => lines.push(l), [live.addresses[0], gone]);
  try {
    await until('the live bootstrap', () => peer.libp2p.getPeers().some((p) => p.equals(live.peerId)));
    await until(
      'a retry of each dead one',
      () => (peer.bootstrapFailures.get(refused) ?? 0) >= 2 && (peer.bootstrapFailures.get(impostor) ?? 0) >= 2,
    );
    t.true(
      lines.some((l) => l.startsWith(`sat-peer: bootstrap ${refused}: refused`) && /retrying in 1\.0 s/.test(l)),
      lines.join('\n'),
    );
    t.true(
      lines.some((l) => l.startsWith(`sat-peer: bootstrap ${impostor}: wrong peer id`)),
      lines.join('\n'),
    );
    t.true(
      lines.some((l) => l.includes(refused) && /retrying in 2\.0 s/.test(l)),
      'the backoff doubles',
    );
    t.false(peer.bootstrapFailures.has(live.addresses[0]));
    t.true(lines.includes(`sat-peer: bootstrap ${live.addresses[0]}: connected`), lines.join('\n'));
    t.is(lines.filter((l) => l.endsWith(': connected')).length, 1, 'an address given twice is dialed once');
    await until('the gone known peer', () => lines.some((l) => l.startsWith(`sat-peer: known peer ${gone}: refused`)));
    t.false(lines.some((l) => l.includes(refused) && l.endsWith(': connected')));
    t.true(lines.every((l) => !l.includes('\n')));
  } finally {
    await peer.stop();
    await live.stop();
  }
});

test('the peers of the last run are saved and loaded back as dialable addresses', async (t) => {
  const dir = tempDir('known-');
  t.deepEqual(loadKnownPeers(dir), [], 'none on a first run');
  const [a, b] = await Promise.all([start(), start()]);
  try {
    await b.dial(a.addresses[0]);
    saveKnownPeers(dir, b.libp2p);
    const known = loadKnownPeers(dir);
    t.is(known.length, 1);
    t.true(known[0].endsWith(`/p2p/${a.peerId}`));
    // A restarted peer with only its known peers (the bootstrap list empty or down) finds a again.
    const c = await start(known);
    await until('the known peer', () => c.libp2p.getPeers().some((p) => p.equals(a.peerId)));
    await c.stop();
    fs.writeFileSync(path.join(dir, 'peers.json'), '{ damaged');
    t.deepEqual(loadKnownPeers(dir), []);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('a bootstrap peer that restarts is dialed again', async (t) => {
  const dir = tempDir('bootstrap-again-');
  const { loadOrCreateIdentity } = await import('../../node/protocol/identity.ts');
  const { privateKey } = await loadOrCreateIdentity(dir);
  let boot = await PeerHost.start({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] });
  const address = boot.addresses[0];
  const peer = await start([address], () => undefined);
  try {
    await until('the first connection', () => peer.libp2p.getPeers().some((p) => p.equals(boot.peerId)));
    await boot.stop();
    boot = await PeerHost.start({ privateKey, listen: [address.split('/p2p/')[0]] });
    await until('the connection again', () => peer.libp2p.getPeers().some((p) => p.equals(boot.peerId)));
    t.pass();
  } finally {
    await peer.stop();
    await boot.stop();
  }
});
