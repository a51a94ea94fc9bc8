// A peer that has only the team id: it finds the team's peers through the bootstrap's DHT, fetches
// the manifest and the data sets by CID from them (the files are not on its machine), and runs the
// team's stage with them — real processes on loopback; it runs behind a (pretend) NAT, so it also
// takes a reservation on the bootstrap's relay.
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEMO, sat } from '../cli/run-cli.ts';
import { smallTeam } from '../sim/small-team.ts';
import { exited, runBin as run } from './bin-process.ts';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { teamDataset } from '../../node/peer/team-fetch.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { tempDir } from '../temp-dir.ts';

test(
  'start --team <team id>: the manifest and the data sets come ' +
    "from the team's peers, and the peer runs its stage with them",
  async (t) => {
    t.timeout(300_000);
    const { dir, config } = smallTeam(1);
    const teamFile = path.join(dir, 'the-team.yaml');
    const created = sat('team', 'create', '--config', config, '--out', teamFile, '--json');
    t.is(created.code, 0, created.stderr);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const children: ChildProcess[] = [];
    try {
      const bootstrap = run('sat-bootstrap.js', [
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--data-dir',
        path.join(dir, 'bootstrap'),
        '--json',
      ]);
      children.push(bootstrap.child);
      const address = ((await bootstrap.next()).addresses as string[])[0];
      const peer = (team: string, slot: number, ...extra: string[]) =>
        run('sat-peer.js', [
          'start',
          '--team',
          team,
          '--model',
          `${DEMO}/tiny-weak`,
          '--slot',
          String(slot),
          '--data-dir',
          path.join(dir, `peer-${slot}`),
          '--bootstrap',
          address,
          '--listen',
          '/ip4/127.0.0.1/tcp/0',
          '--threads',
          '1',
          '--json',
          ...extra,
        ]);
      // The first scores and trains in micro-batches of 5 of the stage's 24 rollouts.
      const a = peer(teamFile, 0, '--micro-batch', '5');
      children.push(a.child);
      await a.next('joined');
      // Only the first peer ever had the data sets: the second must fetch them.
      const originals = ['train.jsonl', 'test.jsonl'].map((f) => fs.readFileSync(path.join(dir, f)));
      for (const f of ['train.jsonl', 'test.jsonl']) fs.renameSync(path.join(dir, f), path.join(dir, `${f}.away`));
      // Behind a NAT too: it also takes a reservation on the bootstrap's relay.
      const b = peer(id, 1, '--nat');
      children.push(b.child);
      const joined = await b.next('joined');
      t.is(joined.team, id);
      t.true(
        (joined.addresses as string[]).some((a) => a.includes('/p2p-circuit/')),
        `reachable through the relay: ${joined.addresses}`,
      );
      const [rowA, rowB] = await Promise.all([a.next('stage'), b.next('stage')]);
      t.is(rowA.stage, 1);
      // What differs between two processes: their times, their memory and what they sent.
      const bare = ({
        seconds,
        time,
        rss_mb,
        heap_mb,
        peak_rss_mb,
        planned_mb,
        bytes_out,
        ...row
      }: Record<string, unknown>) => JSON.stringify(row);
      t.is(bare(rowB), bare(rowA), 'both peers log the same stage');
      t.true(
        (rowA.peak_rss_mb as number) > 100 && (rowA.planned_mb as number) > 100,
        'and their memory beside their plan',
      );
      t.deepEqual(await Promise.all([exited(a.child), exited(b.child)]), [0, 0]);

      // What the second peer fetched is the team's: the same manifest (id) and data bytes.
      const shown = JSON.parse(sat('team', 'show', path.join(dir, 'peer-1', 'team.yaml'), '--json').stdout);
      t.is(shown.id, id);
      const fetched = fs
        .readdirSync(path.join(dir, 'peer-1', 'data'))
        .map((f) => fs.readFileSync(path.join(dir, 'peer-1', 'data', f)));
      t.is(fetched.length, 2);
      for (const o of originals) t.true(fetched.some((f) => f.equals(o)));
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    }
  },
);

test("a manifest's uri that names no regular file (a device) is not read: the data set is asked of the team", async (t) => {
  const dir = tempDir('sat-team-fetch-uri-');
  const host = await PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  try {
    const zero = path.relative(dir, '/dev/zero');
    const d = { name: 'train.jsonl', cid: contentId(Uint8Array.of(1)).bytes, uri: zero };
    await t.throwsAsync(
      teamDataset(d, dir, host, dir, () => undefined, 300),
      { name: 'TeamFetchError' },
    );
  } finally {
    await host.stop();
  }
});
