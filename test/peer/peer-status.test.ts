// A peer in the operator's view, from stand-ins of its host, roster and link and a real stage log: the
// roster with seniority and heartbeat age, the token's position and slot, the logged stages, and metrics
// that move with the host's counters (a rejected gossip message, bytes by protocol).
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { logRing } from '../../node/ops/log-ring.ts';
import { scrape, newRegistry } from '../../node/ops/metrics.ts';
import { type StatusPeer, peerStatusSource, shortId } from '../../node/peer/peer-status.ts';
import type { TopicCounters } from '../../node/protocol/host.ts';
import { tempDir } from '../temp-dir.ts';

const row = (stage: number, accuracy: number) => ({
  stage,
  order: [0, 1],
  reward: 0.5 + stage / 10,
  test_accuracy: accuracy,
  agents: [
    { slot: 0, name: 'first', klQuantile: 0.01, backtracks: 1 },
    { slot: 1, name: 'second', klQuantile: 0.02, backtracks: 0 },
  ],
  time: { rollout: 1.5, update: 0.5, network: 0.2, eval: 1 },
  seconds: 3.2,
});

test('the snapshot and the metrics of a peer', async (t) => {
  const [me, other] = await Promise.all([0, 1].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))));
  const dir = tempDir('sat-peer-status-');
  fs.writeFileSync(
    path.join(dir, 'stage_log.jsonl'),
    `${JSON.stringify(row(1, 0.25))}\n${JSON.stringify(row(2, 0.5))}\n`,
  );
  const claims: TopicCounters = { accepted: 9, rejected: new Map(), rejectedFrom: new Map() };
  const now = Date.now();
  const host = {
    peerId: me,
    counters: new Map([['sat/bafkteam/claims', claims]]),
    traffic: { bytesIn: new Map([['/sat/blocks/1', 1000]]), bytesOut: new Map([['/sat/token/1', 20]]) },
    libp2p: { getPeers: () => [other] },
    blocks: { counters: { corruptFrom: new Map(), badRequests: 3, badFrom: new Map([['12D3KooWflood', 3]]) } },
  };
  const peer = {
    host,
    teamId: 'bafkteam',
    slot: 0,
    roster: {
      stage: 3,
      holders: () => [me, other, undefined],
      heard: (slot: number) =>
        slot === 0
          ? { claimTime: now - 60_000, lastSeen: now - 2_000, stage: 3 }
          : { claimTime: now - 30_000, lastSeen: now },
      counters: { claims: 2, heartbeats: 5, dropped: new Map([['late', 1]]) },
    },
    link: {
      stageOrder: [1, 0],
      token: {
        silence: { position: 1, ms: 4_000 },
        counters: { handoffs: 2, acked: 2, takeovers: 0, ignored: 0, rejected: 0, rejectedFrom: new Map() },
      },
      shards: { counters: { nonMember: 0, invalidFrom: new Map() } },
    },
    chunks: { refused: { byReason: new Map([['prefix-too-long', 2]]), bySender: new Map([['12D3KooWflood', 2]]) } },
    states: { counters: { dropped: new Map() } },
  } as unknown as StatusPeer;
  const ring = logRing();
  ring.note('bootstrap dial failed');
  const source = peerStatusSource(peer, dir, ring);

  const s = source.snapshot();
  t.is(s.stage, 3);
  t.is(s.stagesDone, 2);
  t.deepEqual(s.token, { position: 1, slot: 0, silentS: 4 });
  t.deepEqual(
    s.roster.map((r) => [r.slot, r.peer, r.self, r.claimAgeS, r.heartbeatAgeS, r.stage]),
    [
      [0, shortId(me.toString()), true, 60, 2, 3],
      [1, shortId(other.toString()), false, 30, 0, undefined],
      [2, undefined, false, undefined, undefined, undefined],
    ],
  );
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

  const registry = newRegistry();
  const before = await scrape(registry, source.metrics());
  t.regex(before, /^sat_stages_done 2$/m);
  t.regex(before, /^sat_test_accuracy\{stage="2"\} 0\.5$/m);
  t.regex(before, /^sat_reward 0\.7$/m);
  t.regex(before, /^sat_kl_quantile\{agent="second"\} 0\.02$/m);
  t.regex(before, /^sat_backtracks_total\{agent="first"\} 2$/m);
  t.regex(before, /^sat_bytes_total\{protocol="\/sat\/blocks\/1",direction="in"\} 1000$/m);
  t.regex(before, /^sat_rejected_messages_total\{source="roster",reason="late"\} 1$/m);
  t.regex(before, /^sat_rejected_messages_total\{source="chunks",reason="prefix-too-long"\} 2$/m);
  t.regex(before, /^sat_rejected_messages_total\{source="blocks",reason="bad-request"\} 3$/m);
  t.regex(before, /^sat_rejected_messages_by_sender_total\{sender="12D3KooWflood"\} 5$/m);
  t.notRegex(before, /source="claims",reason="malformed"/);
  t.regex(before, /^sat_peers_connected 1$/m);
  // A refused claim: counted by reason and by sender at the next scrape.
  claims.rejected.set('malformed', 1);
  claims.rejectedFrom.set(other.toString(), 1);
  const after = await scrape(registry, source.metrics());
  t.regex(after, /^sat_rejected_messages_total\{source="claims",reason="malformed"\} 1$/m);
  t.regex(after, new RegExp(`^sat_rejected_messages_by_sender_total\\{sender="${other}"\\} 1$`, 'm'));
});
