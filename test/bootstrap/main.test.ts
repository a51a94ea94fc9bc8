// `sat-bootstrap` as a real process: it prints its addresses, a peer joins through it, SIGTERM stops it
// cleanly (one line, exit code 143; SIGINT 130), a restart keeps its peer id, and a bad address is one line with
// exit code 2.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
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

/** What `child` writes on stderr from now on, as the returned function reads it. */
function stderrOf(child: ReturnType<typeof spawn>): () => string {
  let text = '';
  child.stderr!.on('data', (d) => {
    text += d;
  });
  return () => text;
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
  const said = stderrOf(child);
  child.kill('SIGTERM');
  t.is(await exited(child), 143);
  t.regex(said(), /(^|\n)sat-bootstrap: stopped \(SIGTERM\)\n$/);
  const again = await launch(dataDir);
  t.is(again.info.peerId, info.peerId);
  const againSaid = stderrOf(again.child);
  again.child.kill('SIGINT');
  t.is(await exited(again.child), 130);
  t.regex(againSaid(), /(^|\n)sat-bootstrap: stopped \(SIGINT\)\n$/);
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
  t.regex(flag.stderr, /^sat-bootstrap: unknown option '--port' \(see sat-bootstrap --help\)\n$/);
  const near = spawnSync(process.execPath, ['bin/sat-bootstrap.js', '--htp', ':0'], { cwd: ROOT, encoding: 'utf8' });
  t.is(near.status, 2);
  t.is(near.stderr, "sat-bootstrap: unknown option '--htp'; did you mean --http? (see sat-bootstrap --help)\n");
  const help = spawnSync(process.execPath, ['bin/sat-bootstrap.js', '--help'], { cwd: ROOT, encoding: 'utf8' });
  t.regex(help.stdout, /^Usage: sat-bootstrap .*\[--http <host:port>\]/m);
});

test('it logs each peer that connects and goes: a JSON event each with --json, a line each without', async (t) => {
  for (const json of [true, false]) {
    const child = spawn(
      process.execPath,
      [
        'bin/sat-bootstrap.js',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--data-dir',
        tempDir('bootstrap-'),
        ...(json ? ['--json'] : []),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: string[] = [];
    readline.createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    const waitFor = async (ok: (l: string) => boolean, what: string) => {
      const end = Date.now() + 15_000;
      while (!lines.some(ok)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`no ${what}:\n${lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return lines.find(ok)!;
    };
    try {
      const address = (await waitFor((l) => l.includes('/p2p/'), 'address')).match(/\/ip4\/[^\s"]+/)![0];
      const peer = await PeerHost.start({
        privateKey: await generateKeyPair('Ed25519'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [address],
        log: () => undefined,
      });
      const id = peer.peerId.toString();
      if (json) {
        const connect = JSON.parse(await waitFor((l) => l.includes('"peer:connect"'), 'connect event'));
        t.like(connect, { event: 'peer:connect', peer: id, connected: 1 });
        t.regex(connect.address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/);
        await peer.stop();
        t.like(JSON.parse(await waitFor((l) => l.includes('"peer:disconnect"'), 'disconnect event')), {
          event: 'peer:disconnect',
          peer: id,
          connected: 0,
        });
      } else {
        const short = `${id.slice(0, 8)}…${id.slice(-6)}`;
        t.regex(
          await waitFor((l) => l.includes(short), 'connect line'),
          new RegExp(`^\\S+Z peer ${short} connected from /ip4/127\\.0\\.0\\.1/tcp/\\d+\\S* \\(1 connected\\)$`),
        );
        await peer.stop();
        t.regex(await waitFor((l) => l.includes(`${short} gone`), 'gone line'), / \(0 connected\)$/);
      }
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  }
});

test('a busy port is one line naming it, exit code 2', async (t) => {
  const server = net.createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = spawnSync(
      process.execPath,
      ['bin/sat-bootstrap.js', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', tempDir('bootstrap-')],
      { cwd: ROOT, encoding: 'utf8' },
    );
    t.is(r.status, 2);
    t.is(
      r.stderr,
      `sat-bootstrap: cannot listen on /ip4/127.0.0.1/tcp/${port}: the address is in use (another peer? pick another ` +
        'port with --listen)\n',
    );
  } finally {
    server.close();
  }
});

test('--version prints the package version', (t) => {
  const r = spawnSync(process.execPath, ['bin/sat-bootstrap.js', '--version'], { cwd: ROOT, encoding: 'utf8' });
  t.is(r.status, 0);
  t.is(r.stdout, `${JSON.parse(fs.readFileSync(`${ROOT}package.json`, 'utf8')).version}\n`);
});
