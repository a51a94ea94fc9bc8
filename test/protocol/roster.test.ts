// The roster between three real peers: every peer computes the same holder of each slot; an
// incumbent keeps its slot against a later claimant, who takes over once the incumbent falls silent;
// claims with another tokenizer, or from peers an allowlist does not admit, are dropped.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import {
  Admission,
  PROTOCOL_VERSION,
  type TeamManifest,
  Workflow,
  encodeSlotClaim,
  teamId,
} from '../../node/protocol/codec.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { CLAIM_FILE, Roster, claimsTopic, heartbeatsTopic } from '../../node/protocol/roster.ts';
import { until } from './until.ts';
import { tempDir } from '../temp-dir.ts';

const TOKENIZER = new Uint8Array(32).fill(7);
const manifest = (
  admission = Admission.OPEN,
  allow: Uint8Array<ArrayBuffer>[] = [],
  upgrades = true,
): TeamManifest => ({
  version: 5,
  name: 'roster test',
  workflow: Workflow.CHAIN,
  config: '{}',
  admission,
  allow,
  upgrades,
  slots: [
    { role: 'first', family: 'qwen3', tokenizer: TOKENIZER },
    { role: 'second', family: 'qwen3', tokenizer: TOKENIZER },
  ],
  dataset: { name: 'demo', uri: '', cid: contentId(new TextEncoder().encode('the training set')).bytes },
});

async function peers(m: TeamManifest, keys?: Awaited<ReturnType<typeof generateKeyPair>>[]) {
  const team = teamId(m);
  const hosts = await Promise.all(
    [0, 1, 2].map(async (i) =>
      PeerHost.start({ privateKey: keys?.[i] ?? (await generateKeyPair('Ed25519')), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  const rosters = hosts.map((h) => new Roster(h, { team, manifest: m, livenessMs: 1500, heartbeatMs: 200 }));
  rosters.forEach((r) => r.start());
  await hosts[1].dial(hosts[0].addresses[0]);
  await hosts[2].dial(hosts[0].addresses[0]);
  await hosts[2].dial(hosts[1].addresses[0]);
  await until('roster subscriptions', () =>
    hosts.every(
      (h) => h.subscribers(claimsTopic(team)).length === 2 && h.subscribers(heartbeatsTopic(team)).length === 2,
    ),
  );
  const stop = async () => {
    rosters.forEach((r) => r.stop());
    await Promise.all(hosts.map((h) => h.stop().catch(() => undefined)));
  };
  return { hosts, rosters, stop };
}

const same = (a: PeerId | undefined, b: PeerId | undefined) => (a && b ? a.equals(b) : a === b);

test('every peer agrees on the holders; the incumbent keeps its slot until it falls silent', async (t) => {
  const {
    hosts: [a, b, c],
    rosters,
    stop,
  } = await peers(manifest());
  try {
    await rosters[0].claim(0, 'qwen3', TOKENIZER);
    await rosters[1].claim(1, 'qwen3', TOKENIZER);
    await until('agreement', () => rosters.every((r) => same(r.holder(0), a.peerId) && same(r.holder(1), b.peerId)));
    // c claims the held slot 1 later: b, the incumbent, keeps it on every peer.
    await new Promise((r) => setTimeout(r, 5));
    await rosters[2].claim(1, 'qwen3', TOKENIZER);
    await until("c's claim to be seen", () => rosters.every((r) => r.claimants(1).some((p) => p.equals(c.peerId))));
    await new Promise((r) => setTimeout(r, 400));
    t.true(
      rosters.every((r) => same(r.holder(1), b.peerId)),
      'the incumbent keeps slot 1',
    );
    // b falls silent: once its claim lapses, c holds slot 1 on every live peer.
    rosters[1].stop();
    await b.stop();
    await until(
      'the takeover of slot 1',
      () => [rosters[0], rosters[2]].every((r) => same(r.holder(1), c.peerId)),
      10_000,
    );
    t.true(same(rosters[0].holder(0), a.peerId));
  } finally {
    await stop();
  }
});

test('claims with another tokenizer, or from a peer the allowlist leaves out, are dropped and counted', async (t) => {
  const keys = await Promise.all([0, 1, 2].map(() => generateKeyPair('Ed25519')));
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
  const admitted = [0, 1].map((i) => Uint8Array.from(peerIdFromPrivateKey(keys[i]).toMultihash().bytes));
  const { hosts, rosters, stop } = await peers(manifest(Admission.ALLOWLIST, admitted), keys);
  const [a, , c] = hosts;
  try {
    await rosters[0].claim(0, 'qwen3', TOKENIZER);
    await rosters[2].claim(1, 'qwen3', TOKENIZER); // c is not on the allowlist
    const other = new Uint8Array(32).fill(9); // another tokenizer: refused locally, dropped when sent anyway
    await t.throwsAsync(rosters[1].claim(1, 'qwen3', other), {
      name: 'ClaimError',
      message: /needs the tokenizer the manifest names/,
    });
    const team = teamId(manifest(Admission.ALLOWLIST, admitted));
    await hosts[1].publish(
      claimsTopic(team),
      encodeSlotClaim({
        version: PROTOCOL_VERSION,
        team,
        slot: 1,
        family: 'qwen3',
        tokenizer: other,
        upgrade: false,
        from: 0,
        time: Date.now(),
      }),
    );
    await until(
      'the drops',
      () =>
        (rosters[0].counters.dropped.get('not-admitted') ?? 0) > 0 &&
        (rosters[0].counters.dropped.get('tokenizer') ?? 0) > 0,
    );
    t.true(same(rosters[0].holder(0), a.peerId));
    t.is(rosters[0].holder(1), undefined, 'nobody admitted holds slot 1');
    // c's heartbeats are not a member's.
    await until('a non-member heartbeat', () => (rosters[0].counters.dropped.get('non-member') ?? 0) > 0);
    t.false(same(rosters[1].holder(1), c.peerId));
  } finally {
    await stop();
  }
});

test('an upgrade claim takes its slot over at the stage it names, on every peer', async (t) => {
  const {
    hosts: [, b, c],
    rosters,
    stop,
  } = await peers(manifest());
  try {
    await rosters[1].claim(1, 'qwen3', TOKENIZER);
    await rosters[2].claim(1, 'qwen3', TOKENIZER, 3);
    await until('both claims everywhere', () => rosters.every((r) => r.claimants(1).length === 2));
    await new Promise((r) => setTimeout(r, 300));
    t.true(
      rosters.every((r) => same(r.holder(1, 2), b.peerId)),
      'before the boundary the incumbent holds the slot',
    );
    t.true(
      rosters.every((r) => same(r.holder(1, 3), c.peerId) && same(r.holder(1, 4), c.peerId)),
      'from stage 3 the upgrade does',
    );
  } finally {
    await stop();
  }
});

test("an upgrade claim for a stage its slot's holder is already in is late, and dropped", async (t) => {
  const {
    hosts: [, b, c],
    rosters,
    stop,
  } = await peers(manifest());
  const team = teamId(manifest());
  const upgrade = (from: number) =>
    encodeSlotClaim({
      version: PROTOCOL_VERSION,
      team,
      slot: 1,
      family: 'qwen3',
      tokenizer: TOKENIZER,
      upgrade: true,
      from,
      time: Date.now(),
    });
  try {
    await rosters[1].claim(1, 'qwen3', TOKENIZER);
    rosters[1].setStage(4);
    await until('b in stage 4 everywhere', () => rosters[0].stageOf(1, b.peerId) === 4);
    await c.publish(claimsTopic(team), upgrade(4));
    await until('the drop', () => (rosters[0].counters.dropped.get('late') ?? 0) === 1);
    t.true(same(rosters[0].holder(1, 4), b.peerId) && same(rosters[0].holder(1, 9), b.peerId), 'the slot stays with b');
    await c.publish(claimsTopic(team), upgrade(6));
    await until('the claim for a later stage', () => same(rosters[0].holder(1, 6), c.peerId));
    t.true(same(rosters[0].holder(1, 5), b.peerId));
  } finally {
    await stop();
  }
});

test('a peer holds one slot at most, and a claim dated ahead of the clock is dropped', async (t) => {
  const {
    hosts: [a, b],
    rosters,
    stop,
  } = await peers(manifest());
  try {
    await rosters[0].claim(0, 'qwen3', TOKENIZER);
    await until('a in slot 0', () => rosters.every((r) => same(r.holder(0), a.peerId)));
    await rosters[0].claim(1, 'qwen3', TOKENIZER);
    await until('a moved to slot 1', () =>
      rosters.every((r) => same(r.holder(1), a.peerId) && r.holder(0) === undefined),
    );
    const future = {
      version: PROTOCOL_VERSION,
      team: teamId(manifest()),
      slot: 0,
      family: 'qwen3',
      tokenizer: TOKENIZER,
      upgrade: false,
      from: 0,
      time: Date.now() + 3_600_000,
    };
    await b.publish(claimsTopic(teamId(manifest())), encodeSlotClaim(future));
    await until('the drop', () => (rosters[0].counters.dropped.get('future') ?? 0) === 1);
    t.is(rosters[0].holder(0), undefined);
  } finally {
    await stop();
  }
});

test('upgrade claims are dropped when the manifest does not allow upgrades', async (t) => {
  const m = manifest(Admission.OPEN, [], false);
  const { hosts, rosters, stop } = await peers(m);
  const b = hosts[1];
  try {
    await rosters[1].claim(1, 'qwen3', TOKENIZER);
    await t.throwsAsync(rosters[2].claim(1, 'qwen3', TOKENIZER, 2), {
      name: 'ClaimError',
      message: /does not allow upgrades/,
    });
    // One sent anyway (another implementation, or a forged one) is dropped by the others.
    await hosts[2].publish(
      claimsTopic(teamId(m)),
      encodeSlotClaim({
        version: PROTOCOL_VERSION,
        team: teamId(m),
        slot: 1,
        family: 'qwen3',
        tokenizer: TOKENIZER,
        upgrade: true,
        from: 2,
        time: Date.now(),
      }),
    );
    await until('the drop', () => (rosters[0].counters.dropped.get('no-upgrades') ?? 0) > 0);
    t.true(rosters.every((r) => same(r.holder(1, 5), b.peerId)));
  } finally {
    await stop();
  }
});

test('a peer keeps its claim time in its data dir, so a restart re-announces the same claim', async (t) => {
  const dir = tempDir('claims-');
  const m = manifest();
  const team = teamId(m);
  const timeIn = () => JSON.parse(fs.readFileSync(path.join(dir, CLAIM_FILE), 'utf8'))[`${team}/1/claim`] as number;
  const privateKey = await generateKeyPair('Ed25519');
  for (let run = 0; run < 2; run++) {
    const host = await PeerHost.start({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] });
    const roster = new Roster(host, { team, manifest: m, dataDir: dir });
    roster.start();
    const before = run === 0 ? undefined : timeIn();
    await roster.claim(1, 'qwen3', TOKENIZER);
    if (before !== undefined) t.is(timeIn(), before, "the restart reuses the first claim's time");
    t.true(Number.isInteger(timeIn()) && timeIn() <= Date.now());
    roster.stop();
    await host.stop();
    await new Promise((r) => setTimeout(r, 20));
  }
});

test("a claim dated before the holder's, first heard once the peers listened a liveness window, does not take the slot", async (t) => {
  const m = manifest();
  const {
    hosts: [a, b, c],
    rosters,
    stop,
  } = await peers(m);
  let late: Roster | undefined;
  try {
    await rosters[0].claim(0, 'qwen3', TOKENIZER);
    await rosters[1].claim(1, 'qwen3', TOKENIZER);
    // A claim first heard once a peer has listened a liveness window (1.5 s here) cannot be dated before the holder's.
    await new Promise((r) => setTimeout(r, 2_000));
    // c joins the running team with a claim on slot 0 dated 1970.
    rosters[2].stop();
    late = new Roster(c, {
      team: teamId(m),
      manifest: m,
      livenessMs: 1500,
      heartbeatMs: 200,
      claimed: (claim) => ({ ...claim, time: 1 }),
    });
    late.start();
    await late.claim(0, 'qwen3', TOKENIZER);
    await until('the backdated claim to be counted', () => rosters.slice(0, 2).every((r) => r.counters.backdated > 0));
    await new Promise((r) => setTimeout(r, 600));
    for (const r of rosters.slice(0, 2)) {
      t.true(same(r.holder(0), a.peerId), 'the holder keeps slot 0');
      t.deepEqual(r.line(0).map(String), [a.peerId, c.peerId].map(String), 'and the backdated claimant is behind it');
    }
    // A peer that claims again with an earlier time keeps the time it was first heard with.
    const first = rosters[0].heard(1, b.peerId)!.claimTime;
    await b.publish(
      claimsTopic(teamId(m)),
      encodeSlotClaim({
        version: PROTOCOL_VERSION,
        team: teamId(m),
        slot: 1,
        family: 'qwen3',
        tokenizer: TOKENIZER,
        upgrade: false,
        from: 0,
        time: 1,
      }),
    );
    await until('the re-dated claim to be counted', () => rosters[0].counters.backdated > 1);
    t.is(rosters[0].heard(1, b.peerId)!.claimTime, first);
  } finally {
    late?.stop();
    await stop();
  }
});
