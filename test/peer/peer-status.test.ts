// A peer in the operator's view, from real parts on loopback: two hosts whose rosters hear each other's claims
// (one dated a minute back), token passing that hands position 0 over to this peer, the chunk server, slot states
// and shard exchange, and a real stage log (a row short of a field is skipped). The snapshot's roster, token and
// stages; metrics with no stage logged yet (no reward, no accuracy: not 0), then the last stage's; token passes by
// their kinds; refusals (a claim with another tokenizer, bytes that are no claim) that move between scrapes; the
// senders shown by name bounded; a peer still joining, before its own view takes over.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { statusLines } from '../../node/cli/status-text.ts';
import { parseConfig } from '../../node/config/load.ts';
import { logRing } from '../../node/ops/log-ring.ts';
import { newRegistry, scrape } from '../../node/ops/metrics.ts';
import { SENDERS_SHOWN, topSenders } from '../../node/peer/host-status.ts';
import { PeerChunks } from '../../node/peer/peer-chunks.ts';
import { type StatusPeer, joiningStatusSource, peerStatusSource } from '../../node/peer/peer-status.ts';
import { SlotStates } from '../../node/peer/slot-states.ts';
import { contentId } from '../../node/protocol/cid.ts';
import {
  Admission,
  PROTOCOL_VERSION,
  type TeamManifest,
  Workflow,
  encodeSlotClaim,
  teamId,
} from '../../node/protocol/codec.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { CLAIM_FILE, Roster, claimsTopic, heartbeatsTopic } from '../../node/protocol/roster.ts';
import { ShardExchange } from '../../node/protocol/shards.ts';
import { TokenPassing, tokenTopic } from '../../node/protocol/token-passing.ts';
import { shortId } from '../../node/util/short-id.ts';
import { until } from '../protocol/until.ts';
import { tempDir } from '../temp-dir.ts';

const demo = new URL('../../models/demo/', import.meta.url).pathname;
const TOKENIZER = new Uint8Array(32).fill(7);
const MANIFEST: TeamManifest = {
  version: 5,
  name: 'status test',
  workflow: Workflow.CHAIN,
  config: '{}',
  admission: Admission.OPEN,
  allow: [],
  upgrades: false,
  slots: ['first', 'second', 'third'].map((role) => ({ role, family: 'qwen3', tokenizer: TOKENIZER })),
  dataset: { name: 'demo', uri: '', cid: contentId(new TextEncoder().encode('the training set')).bytes },
};
const TEAM = teamId(MANIFEST);
const STAGE = 3;
/** The token's order in the stage: slot 1 (the other peer) first, then slot 0 (this one). */
const ORDER = [1, 0];

const row = (stage: number, accuracy: number) => ({
  stage,
  order: ORDER,
  reward: 0.5 + stage / 10,
  test_accuracy: accuracy,
  agents: [
    { slot: 0, name: 'first', klQuantile: 0.01, backtracks: 1 },
    { slot: 1, name: 'second', klQuantile: 0.02, backtracks: 0 },
  ],
  time: { rollout: 1.5, update: 0.5, network: 0.2, eval: 1 },
  seconds: 3.2,
});

function config(dir: string) {
  return parseConfig(
    `
seed: 5
dataset: { train_path: ${demo}/train.jsonl, test_path: ${demo}/test.jsonl }
sat:
  agents:
    - { name: first, path: ${demo}/tiny-weak }
    - { name: second, path: ${demo}/tiny-weak }
    - { name: third, path: ${demo}/tiny-weak }
logging: { save_dir: ${dir} }
`,
    'yaml',
    path.join(dir, 'c.yaml'),
  );
}

/** A host on loopback with its roster (claiming `slot`, at STAGE) and token passing. */
async function member(slot: number, dataDir?: string) {
  const host = await PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  const roster = new Roster(host, {
    team: TEAM,
    manifest: MANIFEST,
    ...(dataDir ? { dataDir } : {}),
    livenessMs: 10_000,
    heartbeatMs: 200,
  });
  roster.start();
  const peers = () => new Map(roster.holders().flatMap((p, s): [number, PeerId][] => (p ? [[s, p]] : [])));
  const token = new TokenPassing(host, {
    team: TEAM,
    slot,
    slots: MANIFEST.slots.length,
    deadlineMs: 60_000,
    peers,
    stage: () => STAGE,
    onTurn: () => {},
  });
  await token.start();
  return { host, roster, token, peers };
}

test('the snapshot and the metrics of a peer', async (t) => {
  const dir = tempDir('sat-peer-status-');
  const claimed = Date.now() - 60_000;
  fs.writeFileSync(path.join(dir, CLAIM_FILE), JSON.stringify({ [`${TEAM}/0/claim`]: claimed }));
  const me = await member(0, dir);
  const other = await member(1);
  const chunks = await PeerChunks.start(me.host, TEAM, dir);
  const isMember = (p: PeerId) => me.roster.holders().some((h) => h?.equals(p));
  const shards = new ShardExchange(me.host, {
    team: TEAM,
    slots: MANIFEST.slots.length,
    isMember,
    onShard: () => {},
  });
  shards.start();
  const states = new SlotStates({
    host: me.host,
    team: TEAM,
    cfg: config(dir),
    slot: 0,
    chunks,
    isMember,
    teamStage: () => STAGE,
    log: () => {},
  });
  states.start();
  try {
    await other.host.dial(me.host.addresses[0]);
    await until('subscriptions', () =>
      [claimsTopic(TEAM), heartbeatsTopic(TEAM), tokenTopic(TEAM)].every(
        (topic) => me.host.subscribers(topic).length === 1 && other.host.subscribers(topic).length === 1,
      ),
    );
    for (const [m, slot] of [
      [me, 0],
      [other, 1],
    ] as const) {
      m.roster.setStage(STAGE);
      await m.roster.claim(slot, 'qwen3', TOKENIZER);
    }
    await until('the other peer claimed and heard at the stage', () => {
      const holders = me.roster.holders();
      return (
        holders[0]?.equals(me.host.peerId) === true &&
        holders[1]?.equals(other.host.peerId) === true &&
        me.roster.heard(1, other.host.peerId)?.stage === STAGE &&
        other.roster.holders()[0]?.equals(me.host.peerId) === true
      );
    });
    const link = {
      stageOrder: ORDER,
      token: me.token,
      shards,
      forged: new Map(),
      refusedFrom: new Map(),
      refusedChunks: new Map(),
    };
    const digests = { mismatchFrom: new Map() };
    const attestations = { dropped: new Map([['signature', 2]]) };
    const peer: StatusPeer = {
      host: me.host,
      teamId: TEAM,
      slot: 0,
      roster: me.roster,
      link,
      chunks,
      states,
      digests,
      attestations,
    };
    const ring = logRing();
    ring.note('bootstrap dial failed');
    const source = peerStatusSource(peer, dir, ring);
    const registry = newRegistry();

    // No stage logged yet, the token not started: no reward, accuracy nor token position (not 0, not -1).
    const empty = await scrape(registry, source.metrics());
    t.regex(empty, /^sat_stages_done 0$/m);
    t.notRegex(empty, /^sat_reward/m);
    t.notRegex(empty, /^sat_test_accuracy/m);
    t.notRegex(empty, /^sat_token_position/m, 'no position before a stage has begun');
    t.like(source.snapshot().token, { position: -1, silentS: 0 });

    // The stage begins; the other peer holds position 0 and hands it to this one.
    const plan = (m: typeof me) => ({ stage: STAGE, order: ORDER, peers: m.peers() });
    me.token.beginStage(plan(me));
    other.token.beginStage(plan(other));
    t.true(await other.token.handOff(0), 'acked');
    fs.writeFileSync(
      path.join(dir, 'stage_log.jsonl'),
      [
        row(1, 0.25),
        { ...row(2, 0.4), seconds: undefined }, // no seconds: skipped
        { ...row(2, 0.4), time: undefined }, // no time: skipped
        { stage: 2, upgrade: { slot: 'second' } }, // an upgrade's row
        row(2, 0.5),
      ]
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(''),
    );

    const s = source.snapshot();
    t.is(s.role, 'peer');
    t.is(s.peerId, me.host.peerId.toString());
    t.is(s.stage, STAGE);
    t.is(s.stagesDone, 2);
    t.like(s.token, { position: 1, slot: 0 });
    t.true(s.token!.silentS < 10, String(s.token!.silentS));
    t.deepEqual(
      s.roster.map((r) => [r.slot, r.peer, r.self]),
      [
        [0, shortId(me.host.peerId.toString()), true],
        [1, shortId(other.host.peerId.toString()), false],
        [2, undefined, false],
      ],
    );
    const [mine, theirs, vacant] = s.roster;
    t.true(mine.claimAgeS! >= 60 && mine.claimAgeS! < 80, `claimed ${mine.claimAgeS} s ago`);
    t.true(theirs.claimAgeS! < 20 && theirs.heartbeatAgeS! < 5, JSON.stringify(theirs));
    t.is(theirs.stage, STAGE);
    t.deepEqual(vacant, { slot: 2, self: false });
    t.deepEqual(
      s.stages.map((p) => [p.stage, p.accuracy, p.seconds, p.time.eval]),
      [
        [1, 0.25, 3.2, 1],
        [2, 0.5, 3.2, 1],
      ],
    );
    t.is(s.connections, 1);
    t.deepEqual(
      s.errors.map((e) => e.line),
      ['bootstrap dial failed'],
    );
    t.true(statusLines(s, 'http://127.0.0.1:9100/').some((l) => /^\s+2\s+50\.0%\s+0\.700\s+3\.2$/.test(l)));

    // A claim with another tokenizer: decoded, then dropped by the roster.
    const odd = {
      version: PROTOCOL_VERSION,
      team: TEAM,
      slot: 2,
      family: 'qwen3',
      tokenizer: new Uint8Array(32).fill(9),
      upgrade: false,
      from: 0,
      time: Date.now(),
    };
    await other.host.publish(claimsTopic(TEAM), encodeSlotClaim(odd));
    await until('the drop', () => (me.roster.counters.dropped.get('tokenizer') ?? 0) === 1);

    const before = await scrape(registry, source.metrics());
    t.regex(before, /^sat_stages_done 2$/m);
    t.regex(before, /^sat_stage 3$/m);
    t.regex(before, /^sat_token_position 1$/m);
    t.regex(before, /^sat_test_accuracy 0\.5$/m, 'the last stage');
    t.notRegex(before, /^sat_test_accuracy\{/m, 'no series by stage');
    t.regex(before, /^sat_reward 0\.7$/m);
    t.regex(before, /^sat_kl_quantile\{agent="second"\} 0\.02$/m);
    t.regex(before, /^sat_backtracks_total\{agent="first"\} 2$/m);
    t.regex(before, /^sat_stage_part_seconds\{part="rollout"\} 1\.5$/m);
    t.regex(before, /^sat_slots_held 2$/m);
    t.regex(before, /^sat_slot_replicas\{slot="0"\} 0$/m);
    t.regex(before, /^sat_rejected_messages_total\{source="attestations",reason="signature"\} 2$/m);
    t.deepEqual(
      [...before.matchAll(/^sat_token_passes_total\{kind="(\w+)"\} \d+$/gm)].map((m) => m[1]),
      ['handoffs', 'acked', 'takeovers', 'ignored'],
    );
    t.regex(before, /^sat_rejected_messages_total\{source="token",reason="refused"\} 0$/m);
    t.regex(before, /^sat_bytes_total\{protocol="\/sat\/token\/1",direction="in"\} [1-9]\d*$/m);
    t.regex(before, /^sat_bytes_total\{protocol="\/meshsub\/[^"]+",direction="out"\} [1-9]\d*$/m);
    t.regex(before, /^sat_gossip_accepted_total\{topic="claims"\} [1-9]\d*$/m);
    t.regex(before, /^sat_rejected_messages_total\{source="roster",reason="tokenizer"\} 1$/m);
    t.regex(before, /^sat_rejected_messages_total\{source="blocks",reason="bad-request"\} 0$/m);
    t.notRegex(before, /source="claims"/);
    t.notRegex(before, /sat_rejected_messages_by_sender_total\{/);
    t.regex(before, /^sat_peers_connected 1$/m);

    // Bytes that are no claim: refused by the host, counted by reason and by sender at the next scrape.
    await other.host.publish(claimsTopic(TEAM), new Uint8Array([0xff, 0xff, 0xff]));
    await until('the refusal', () => (me.host.counters.get(claimsTopic(TEAM))?.rejectedFrom.size ?? 0) === 1);
    const after = await scrape(registry, source.metrics());
    t.regex(after, /^sat_rejected_messages_total\{source="claims",reason="[^"]+"\} 1$/m);
    t.regex(after, new RegExp(`^sat_rejected_messages_by_sender_total\\{sender="${other.host.peerId}"\\} 1$`, 'm'));
  } finally {
    await states.stop();
    shards.stop();
    await chunks.stop();
    for (const m of [me, other]) {
      await m.token.stop();
      m.roster.stop();
      await m.host.stop().catch(() => undefined);
    }
  }
});

test('refusals by sender: the senders that sent the most by name, the rest as other', (t) => {
  const many = new Map(
    Array.from({ length: SENDERS_SHOWN + 5 }, (_, i) => [`peer-${String(i).padStart(2, '0')}`, i + 1]),
  );
  const more = new Map([
    ['peer-00', 100],
    ['other', 7],
  ]);
  const top = topSenders([many, more]);
  t.is(top.length, SENDERS_SHOWN + 1);
  t.deepEqual(top[0], ['peer-00', 101]);
  t.deepEqual(top[1], [`peer-${SENDERS_SHOWN + 4}`, SENDERS_SHOWN + 5]);
  // Left out: the 5 that sent the fewest after peer-00 (peer-01..peer-05: 2 + 3 + 4 + 5 + 6), and the other 7.
  t.deepEqual(top.at(-1), ['other', 20 + 7]);
  t.deepEqual(topSenders([new Map([['a', 1]])]), [['a', 1]]);
});

test('a peer still joining: its team, the stages its data dir logged before, its warnings; no id, roster or token', async (t) => {
  const dir = tempDir('sat-peer-joining-');
  fs.writeFileSync(path.join(dir, 'stage_log.jsonl'), `${JSON.stringify(row(1, 0.25))}\n`);
  const ring = logRing();
  ring.note('bootstrap dial failed');
  const source = joiningStatusSource(TEAM, dir, ring);
  const s = source.snapshot();
  t.like(s, { role: 'peer', peerId: '', joining: true, team: TEAM, stage: 0, stagesDone: 1, connections: 0 });
  t.is(s.token, undefined);
  t.deepEqual(s.roster, []);
  t.deepEqual(
    s.stages.map((p) => p.stage),
    [1],
  );
  t.deepEqual(
    s.errors.map((e) => e.line),
    ['bootstrap dial failed'],
  );
  t.regex(statusLines(s, 'http://127.0.0.1:9100/')[0], /^peer \(joining its team\) at /);
  const metrics = await scrape(newRegistry(), source.metrics());
  t.notRegex(metrics, /^sat_(stage|token_position|stages_done) /m);
});
