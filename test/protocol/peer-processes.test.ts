// Token passing between three peer processes on loopback, one of them killed with SIGKILL while it
// holds the token: the next in order takes over within the deadline; the killed peer restarts with its
// identity, rejoins its slot on every peer's roster, and catches up on the stage's shard by CID.
import test from 'ava';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import readline from 'node:readline';
import { until } from './until.ts';
import { tempDir } from '../temp-dir.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEADLINE = 1500;

interface Peer {
  child: ChildProcessWithoutNullStreams;
  events: Record<string, unknown>[];
  send(m: object): void;
  peerId: string;
  addresses: string[];
}

async function launch(dataDir: string, slot: number): Promise<Peer> {
  const child = spawn(
    process.execPath,
    ['--import=tsx', 'test/protocol/fixtures/token-peer.ts', dataDir, String(slot), '3', String(DEADLINE)],
    { cwd: ROOT },
  );
  const events: Record<string, unknown>[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => events.push(JSON.parse(l)));
  await until(`peer ${slot} to start`, () => events.some((e) => e.event === 'up'), 30_000);
  const up = events.find((e) => e.event === 'up') as { peerId: string; addresses: string[] };
  return { child, events, send: (m) => child.stdin.write(`${JSON.stringify(m)}\n`), ...up };
}

const turns = (p: Peer) => p.events.filter((e) => e.event === 'turn');

test('a holder killed mid-turn is taken over within the deadline; restarted, it rejoins its slot and catches up by CID', async (t) => {
  const dirs = [0, 1, 2].map(() => tempDir('token-peer-'));
  const peers = await Promise.all(dirs.map((d, slot) => launch(d, slot)));
  try {
    const [a, b, c] = peers;
    b.send({ cmd: 'dial', addr: a.addresses[0] });
    c.send({ cmd: 'dial', addr: a.addresses[0] });
    c.send({ cmd: 'dial', addr: b.addresses[0] });
    const ids = Object.fromEntries(peers.map((p, slot) => [slot, p.peerId]));
    for (const p of peers) {
      await until(
        'token subscriptions',
        () => {
          p.send({ cmd: 'subscribers' });
          return p.events.some((e) => e.event === 'subscribers' && e.n === 2);
        },
        30_000,
      );
    }
    for (const p of peers) p.send({ cmd: 'claim' });
    const holders = (p: Peer) => {
      p.send({ cmd: 'holders' });
      return p.events.filter((e) => e.event === 'holders').at(-1)?.ids as (string | null)[] | undefined;
    };
    await until(
      'every roster agrees',
      () => peers.every((p) => JSON.stringify(holders(p)) === JSON.stringify(peers.map((q) => q.peerId))),
      30_000,
    );
    a.send({ cmd: 'put', text: 'the stage 1 shard' });
    await until('the shard', () => a.events.some((e) => e.event === 'put'));
    const cid = (a.events.find((e) => e.event === 'put') as { cid: string }).cid;

    for (const p of peers) p.send({ cmd: 'begin', stage: 1, order: [0, 1, 2], peers: ids });
    await until('position 0', () => turns(a).length === 1);
    a.send({ cmd: 'handoff', position: 0 });
    await until('position 1', () => turns(b).length === 1);
    await until('the hand-off to finish', () => a.events.some((e) => e.event === 'handoff'));
    t.true(a.events.some((e) => e.event === 'handoff' && e.acked === true));

    const killed = Date.now();
    b.child.kill('SIGKILL');
    await until('the takeover', () => turns(c).length === 1, 10 * DEADLINE);
    const waited = Date.now() - killed;
    t.like(turns(c)[0], { stage: 1, position: 2, takeover: true });
    t.true(waited < 3 * DEADLINE, `took over ${waited} ms after the kill, deadline ${DEADLINE} ms`);

    // b comes back with its identity and fetches the shard it missed.
    const back = await launch(dirs[1], 1);
    t.is(back.peerId, b.peerId, 'the same identity');
    peers[1] = back;
    back.send({ cmd: 'dial', addr: a.addresses[0] });
    back.send({ cmd: 'dial', addr: c.addresses[0] });
    back.send({ cmd: 'claim' });
    await until(
      'b back in slot 1 on every roster',
      () => [a, back, c].every((p) => holders(p)?.[1] === b.peerId),
      30_000,
    );
    back.send({ cmd: 'fetch', cid, from: a.peerId });
    await until('the catch-up', () => back.events.some((e) => e.event === 'fetched' || e.event === 'error'), 20_000);
    t.like(
      back.events.find((e) => e.event === 'fetched' || e.event === 'error'),
      { event: 'fetched', text: 'the stage 1 shard' },
    );
  } finally {
    for (const p of peers) p.child.kill('SIGKILL');
  }
});
