// Peers that know only a bootstrap peer find each other through the DHT by the team's id, and a late
// joiner finds the team too.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { contentId } from '../../node/protocol/cid.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { TeamDiscovery } from '../../node/protocol/team-discovery.ts';
import { ShapedLink } from '../../sim/link.ts';
import { until } from './until.ts';

test('members that know only the bootstrap peer connect to each other; a late joiner is found', async (t) => {
  const start = async (bootstrap: string[] = [], server = false) =>
    PeerHost.start({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap,
      server,
    });
  const bootstrap = await start([], true);
  const team = contentId(new TextEncoder().encode('a discovered team'));
  const [a, b] = [await start([bootstrap.addresses[0]]), await start([bootstrap.addresses[0]])];
  const other = await start([bootstrap.addresses[0]]); // of another team
  const discoveries = [a, b].map((h) => new TeamDiscovery(h, team, 300));
  const otherTeam = new TeamDiscovery(other, contentId(new TextEncoder().encode('another team')), 300);
  [...discoveries, otherTeam].forEach((d) => d.start());
  let late: PeerHost | undefined;
  let lateDiscovery: TeamDiscovery | undefined;
  try {
    await until('a and b connected', () => a.libp2p.getConnections(b.peerId).length > 0);
    late = await start([bootstrap.addresses[0]]);
    lateDiscovery = new TeamDiscovery(late, team, 300);
    lateDiscovery.start();
    await until(
      'the late joiner connected to both',
      () => late!.libp2p.getConnections(a.peerId).length > 0 && late!.libp2p.getConnections(b.peerId).length > 0,
    );
    t.is(otherTeam.found.size, 0, 'a peer of another team finds no providers of its own team id');
  } finally {
    for (const d of [...discoveries, otherTeam, lateDiscovery]) await d?.stop();
    await Promise.all([a, b, other, late, bootstrap].map((h) => h?.stop()));
  }
});

test('members find each other when the DHT answers slower than the discovery interval', async (t) => {
  // The bootstrap behind a relay that delays every byte 300 ms each way: a lookup takes seconds, rounds come every
  // 300 ms.
  const bootstrap = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    server: true,
  });
  const port = Number(bootstrap.addresses[0].split('/')[4]);
  const link = await ShapedLink.open({ host: '127.0.0.1', port }, { latencyMs: 300, loss: 0 });
  const slow = bootstrap.addresses[0].replace(`/tcp/${port}/`, `/tcp/${link.port}/`);
  const team = contentId(new TextEncoder().encode('a slow team'));
  const [a, b] = await Promise.all(
    [0, 1].map(async () =>
      PeerHost.start({
        privateKey: await generateKeyPair('Ed25519'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [slow],
      }),
    ),
  );
  const discoveries = [a, b].map((h) => new TeamDiscovery(h, team, 300));
  discoveries.forEach((d) => d.start());
  try {
    await until('a and b connected', () => a.libp2p.getConnections(b.peerId).length > 0, 60_000);
    t.pass();
  } finally {
    for (const d of discoveries) await d.stop();
    await Promise.all([a, b, bootstrap].map((h) => h.stop()));
    await link.close();
  }
});
