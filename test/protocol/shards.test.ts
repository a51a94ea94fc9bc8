// Shards between three real peers in the chain workflow: the first turn's partial shard reaches the
// peer of the next turn, which continues it and publishes the complete shard every learner fetches;
// an announcer whose bytes are no valid shard is counted and its shard never delivered.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { contentId } from '../../node/protocol/cid.ts';
import { BlockKind, PROTOCOL_VERSION, type TrajectoryShard, encodeAnnounce } from '../../node/protocol/codec.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { ShardExchange, blocksTopic } from '../../node/protocol/shards.ts';
import { until } from './until.ts';

const TEAM = contentId(new TextEncoder().encode('a shard team')).toString();
const SLOTS = 2;
const partial: TrajectoryShard = {
  version: 5,
  team: TEAM,
  stage: 4,
  trajectories: [
    { prompt: 0, group: 0, ids: [5, 6, 7], reward: 0, turns: [{ slot: 0, ids: [8, 9], logprobs: [-0.5, -1.25] }] },
  ],
  rollout: 'train/0',
  part: 0,
  parts: 1,
  chunk: 0,
  chunks: 0,
};

test("a partial shard flows to the next turn's peer; the complete one to every learner; a bad one is counted", async (t) => {
  const hosts = await Promise.all(
    [0, 1, 2].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  const got: TrajectoryShard[][] = hosts.map(() => []);
  // Peer 1 speaks the second turn: it wants shards of one turn. Peer 2 is a learner: complete shards only.
  const wants = [() => true, (a: { turns: number }) => a.turns === 1, (a: { turns: number }) => a.turns === SLOTS];
  const ex = hosts.map(
    (h, i) => new ShardExchange(h, { team: TEAM, slots: SLOTS, wants: wants[i], onShard: (s) => got[i].push(s) }),
  );
  ex.forEach((e) => e.start());
  try {
    await hosts[1].dial(hosts[0].addresses[0]);
    await hosts[2].dial(hosts[0].addresses[0]);
    await hosts[2].dial(hosts[1].addresses[0]);
    await until('subscriptions', () => hosts.every((h) => h.subscribers(blocksTopic(TEAM)).length === 2));

    await ex[0].publish(partial);
    await until('the partial shard at the next turn', () => got[1].length === 1);
    t.deepEqual(got[1][0], partial);
    const complete: TrajectoryShard = {
      ...partial,
      trajectories: [
        {
          ...partial.trajectories[0],
          reward: 1,
          turns: [...partial.trajectories[0].turns, { slot: 1, ids: [10], logprobs: [-0.25] }],
        },
      ],
    };
    await ex[1].publish(complete);
    await until('the complete shard at the learner', () => got[2].length === 1);
    t.deepEqual(got[2][0], complete);
    t.is(got[2].length, 1, 'the learner did not fetch the partial one');

    // Peer 0 announces bytes that are no shard: fetched, checked, refused, counted against it.
    const junk = new TextEncoder().encode('not a shard');
    const cid = hosts[0].blocks.store.put(junk);
    await hosts[0].publish(
      blocksTopic(TEAM),
      encodeAnnounce({
        version: PROTOCOL_VERSION,
        team: TEAM,
        stage: 4,
        kind: BlockKind.SHARD,
        cid: cid.bytes,
        turns: SLOTS,
        size: junk.length,
        rollout: 'train/0',
      }),
    );
    await until('the refusal', () => ex[2].counters.invalidFrom.get(hosts[0].peerId.toString()) === 1);
    t.is(got[2].length, 1);
    // A peer that is no member of the team is not even fetched from.
    ex[2].stop(); // one exchange per host and topic
    const members = new ShardExchange(hosts[2], {
      team: TEAM,
      slots: SLOTS,
      isMember: (p) => p.equals(hosts[0].peerId),
      stage: () => 5,
      onShard: () => t.fail("a non-member's or stale shard"),
    });
    members.start();
    await ex[1].publish({ ...partial, stage: 5 });
    await until('the non-member drop', () => members.counters.nonMember === 1);
    // Nor is a member's shard of an earlier stage than the peer is in.
    await ex[0].publish({ ...partial, stage: 4, trajectories: [{ ...partial.trajectories[0], prompt: 1 }] });
    await until(
      'the stale rejection',
      () => (hosts[2].counters.get(blocksTopic(TEAM))?.rejected.get('stale-stage') ?? 0) === 1,
    );
    t.is(members.counters.received, 0);
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test('an exchange forgets the blocks of earlier stages, made here or fetched, and keeps the rest', async (t) => {
  const hosts = await Promise.all(
    [0, 1].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  const got: TrajectoryShard[] = [];
  const ex = [
    new ShardExchange(hosts[0], { team: TEAM, slots: SLOTS, onShard: () => undefined }),
    new ShardExchange(hosts[1], { team: TEAM, slots: SLOTS, onShard: (s) => got.push(s) }),
  ];
  ex.forEach((e) => e.start());
  try {
    await hosts[1].dial(hosts[0].addresses[0]);
    await until('subscriptions', () => hosts.every((h) => h.subscribers(blocksTopic(TEAM)).length === 1));
    const cids = [];
    for (const stage of [4, 5, 6]) cids.push(await ex[0].publish({ ...partial, stage }));
    await until('every shard fetched', () => got.length === 3);
    for (const e of ex) e.forgetBefore(6);
    for (const h of hosts)
      t.deepEqual(
        cids.map((c) => h.blocks.store.has(c)),
        [false, false, true],
        'stages 4 and 5 forgotten, 6 kept',
      );
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
});
