// The bootstrap's log of peers under churn: real peers connecting on loopback, past the lines a period shows; its
// counts said as 1 peer, 2 peers.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { logPeers } from '../../bootstrap/peer-log.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { until } from '../protocol/until.ts';

const start = async () =>
  PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });

test('past a few lines a period, peers connecting are counted in one line at its end', async (t) => {
  const bootstrap = await start();
  const lines: string[] = [];
  const peers = await Promise.all([0, 1, 2, 3, 4].map(start));
  // A period long enough that the five land in one, however loaded the machine is.
  const stop = logPeers(bootstrap, false, (l) => lines.push(l), { lines: 2, everyMs: 5_000 });
  try {
    await Promise.all(peers.map((p) => p.dial(bootstrap.addresses[0])));
    await until('the count', () => lines.some((l) => / more peers connected or gone in 5 s/.test(l)));
    const connects = lines.filter((l) => / connected from /.test(l));
    t.is(connects.length, 2, lines.join('\n'));
    t.regex(lines.find((l) => / more peers /.test(l)) ?? '', / 3 more peers connected or gone in 5 s \(5 connected\)$/);
  } finally {
    stop();
    await Promise.all([bootstrap, ...peers].map((h) => h.stop()));
  }
});

test('the periodic count and the churn line agree with their number: 1 peer, 2 peers', async (t) => {
  const bootstrap = await start();
  const lines: string[] = [];
  const stop = logPeers(bootstrap, false, (l) => lines.push(l), { lines: 1, everyMs: 4_000 }, 300);
  const peers = await Promise.all([0, 1].map(start));
  try {
    await peers[0].dial(bootstrap.addresses[0]);
    await until('one peer counted', () => lines.some((l) => / 1 peer connected$/.test(l)));
    await peers[1].dial(bootstrap.addresses[0]);
    await until('two peers counted', () => lines.some((l) => / 2 peers connected$/.test(l)));
    await until('the churn line', () => lines.some((l) => / more peers? connected or gone/.test(l)));
    t.regex(lines.find((l) => / more peers? /.test(l)) ?? '', / 1 more peer connected or gone in 4 s \(2 connected\)$/);
    t.false(
      lines.some((l) => / 1 peers /.test(l)),
      lines.join('\n'),
    );
  } finally {
    stop();
    await Promise.all([bootstrap, ...peers].map((h) => h.stop()));
  }
});
