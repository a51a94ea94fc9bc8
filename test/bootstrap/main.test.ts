// `sat-bootstrap` as a real process: it prints its addresses, a peer joins through it, SIGTERM stops it
// cleanly, a restart keeps its peer id, and a bad address is one line with exit code 2.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { PeerHost } from '../../node/protocol/host.ts';
import { tempDir } from '../temp-dir.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Starts sat-bootstrap and resolves with the process and its first JSON line. */
function launch(
  dataDir: string,
): Promise<{ child: ReturnType<typeof spawn>; info: { peerId: string; addresses: string[] } }> {
  const child = spawn(
    process.execPath,
    ['bin/sat-bootstrap.js', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir, '--json'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve({ child, info: JSON.parse(out.split('\n')[0]) });
    });
    child.once('exit', (code) => reject(new Error(`sat-bootstrap exited with ${code} before printing its addresses`)));
  });
}

const exited = (child: ReturnType<typeof spawn>) =>
  new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

test('a peer joins through a running sat-bootstrap, which stops on SIGTERM and keeps its id on restart', async (t) => {
  const dataDir = tempDir('bootstrap-');
  const { child, info } = await launch(dataDir);
  t.true(info.addresses.length > 0 && info.addresses.every((a) => a.endsWith(`/p2p/${info.peerId}`)));
  const peer = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [info.addresses[0]],
  });
  try {
    const end = Date.now() + 15_000;
    while (!peer.libp2p.getPeers().some((p) => p.toString() === info.peerId) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    t.true(
      peer.libp2p.getPeers().some((p) => p.toString() === info.peerId),
      'the peer connected to the bootstrap',
    );
  } finally {
    await peer.stop();
  }
  child.kill('SIGTERM');
  t.is(await exited(child), 0);
  const again = await launch(dataDir);
  t.is(again.info.peerId, info.peerId);
  again.child.kill('SIGINT');
  t.is(await exited(again.child), 0);
});

test('a bad listen address or flag is one line and exit code 2', (t) => {
  const bad = spawnSync(
    process.execPath,
    ['bin/sat-bootstrap.js', '--listen', 'localhost:4001', '--data-dir', tempDir('bootstrap-')],
    { cwd: ROOT, encoding: 'utf8' },
  );
  t.is(bad.status, 2);
  t.regex(bad.stderr, /^sat-bootstrap: listen address 'localhost:4001' is not a multiaddr.*\n$/);
  const flag = spawnSync(process.execPath, ['bin/sat-bootstrap.js', '--port', '1'], { cwd: ROOT, encoding: 'utf8' });
  t.is(flag.status, 2);
  t.regex(flag.stderr, /^sat-bootstrap: .*'--port'.*see sat-bootstrap --help\)\n$/);
});
