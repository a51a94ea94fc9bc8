// The bootstrap's log of peers under churn: real peers connecting on loopback, past the lines a period shows.
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
  const stop = logPeers(bootstrap, false, (l) => lines.push(l), { lines: 2, everyMs: 1_500 });
  const peers = await Promise.all([0, 1, 2, 3, 4].map(start));
  try {
    for (const p of peers) await p.dial(bootstrap.addresses[0]);
    await until('the count', () => lines.some((l) => / more peers connected or gone in 1\.5 s/.test(l)));
    const connects = lines.filter((l) => / connected from /.test(l));
    t.is(connects.length, 2, lines.join('\n'));
    t.regex(
      lines.find((l) => / more peers /.test(l)) ?? '',
      / 3 more peers connected or gone in 1\.5 s \(5 connected\)$/,
    );
  } finally {
    stop();
    await Promise.all([bootstrap, ...peers].map((h) => h.stop()));
  }
});
