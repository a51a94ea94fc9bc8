// The PeerLink between real peers on loopback: a peer whose position the team went on without learns
// so at its turn instead of making an update the others ignore, and a peer restarted after a stage's
// updates follows that stage as an observer, reading its turns from the complete shard and fetching
// by CID an update whose maker is gone.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import type { ChainTranscript } from '../../node/tasks/chain.ts';
import { PeerLink, type PeerLinkInit } from '../../node/peer/peer-link.ts';
import { Attestations, attestTopic } from '../../node/protocol/attestations.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { blocksTopic } from '../../node/protocol/shards.ts';
import { tokenTopic } from '../../node/protocol/token-passing.ts';
import type { AgentStageRecord, SharedUpdate } from '../../node/sat/stage.ts';
import { until } from '../protocol/until.ts';

const TEAM = contentId(new TextEncoder().encode('a peer-link team')).toString();
const STAGE = 3;
const ORDER = [0, 1];
const NAMES = ['first', 'second'];

/** One chain transcript with both slots' turns. */
const complete: ChainTranscript = {
  promptIds: [5, 6, 7],
  turns: [
    { slot: 0, ids: [8, 9], logprobs: [-0.5, -1.25] },
    { slot: 1, ids: [10], logprobs: [-0.25] },
  ],
};

function update(slot: number, tokens: number): SharedUpdate {
  const record: AgentStageRecord = {
    slot,
    name: NAMES[slot],
    accepted: true,
    backtracks: 0,
    step: 1,
    beta: 0.001,
    klQuantile: 0.01 * (slot + 1),
    gain: 0.5,
    reward: 1,
    delta: 0.05,
    n: 1,
    zeta: 0,
    gap: 0,
  };
  return { logpCur: new Float32Array(tokens).fill(-1), logpNew: new Float32Array(tokens).fill(-0.75 - slot), record };
}

async function team(n: number, keys?: PrivateKey[]): Promise<PeerHost[]> {
  const hosts = await Promise.all(
    Array.from({ length: n }, async (_, i) =>
      PeerHost.start({ privateKey: keys?.[i] ?? (await generateKeyPair('Ed25519')), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) await hosts[i].dial(hosts[j].addresses[0]);
  return hosts;
}

function link(host: PeerHost, slot: number, holders: PeerId[], more: Partial<PeerLinkInit> = {}): PeerLink {
  const peers = new Map(holders.map((p, s) => [s, p]));
  return new PeerLink(host, {
    team: TEAM,
    slot,
    slots: 2,
    names: NAMES,
    turnsPerRollout: 2,
    peers: () => peers,
    claims: (slot: number, peer: PeerId) => peers.get(slot)?.equals(peer) === true,
    isMember: () => true,
    deadlineMs: 400,
    waitMs: 20_000,
    ...more,
  });
}

const subscribed = (hosts: PeerHost[], topic: string) =>
  hosts.every((h) => h.subscribers(topic).length === hosts.length - 1);

test("turns of a slot from a peer that does not claim it are dropped, counted, its sender excluded; the slot's are taken", async (t) => {
  const hosts = await team(3);
  const ids = hosts.map((h) => h.peerId);
  const excluded: { peer: string; why: string; from: number }[] = [];
  const exclude = (peer: PeerId, why: string, from: number) => void excluded.push({ peer: peer.toString(), why, from });
  const [first, second, forger] = [
    link(hosts[0], 0, ids.slice(0, 2), { exclude }),
    link(hosts[1], 1, ids.slice(0, 2)),
    link(hosts[2], 0, ids.slice(0, 2)),
  ];
  try {
    for (const l of [first, second, forger]) await l.start();
    await until('subscriptions', () => subscribed(hosts, blocksTopic(TEAM)));
    first.beginStage(STAGE);
    // A peer with no claim sends slot 1's turn first, with other tokens.
    const forged = { ...complete, turns: [complete.turns[0], { slot: 1, ids: [11, 12], logprobs: [-0.1, -0.1] }] };
    await forger.shareTurn(STAGE, 'train/0', [forged]);
    await until('the forged shard refused', () => first.forged.size === 1);
    t.deepEqual([...first.forged], [[ids[2].toString(), 1]]);
    t.is(excluded.length, 1);
    t.like(excluded[0], { peer: ids[2].toString(), from: STAGE + 1 });
    t.regex(excluded[0].why, /turns of slot 1 in stage 3's rollout train\/0, a slot it does not train/);
    t.false(first.rolledOut(STAGE));
    await second.shareTurn(STAGE, 'train/0', [complete]);
    await until('the complete shard at slot 0', () => first.rolledOut(STAGE));
    t.deepEqual(await first.rollout(STAGE, 'train/0'), [complete], "slot 1's own turn");
  } finally {
    for (const l of [first, second, forger]) await l.stop();
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test('a position the team went on without: its peer learns so at its turn, and makes no update', async (t) => {
  const hosts = await team(2);
  const ids = hosts.map((h) => h.peerId);
  const [late, next] = [link(hosts[0], 0, ids), link(hosts[1], 1, ids)];
  try {
    await next.start();
    await late.start();
    await until('subscriptions', () => subscribed(hosts, blocksTopic(TEAM)) && subscribed(hosts, tokenTopic(TEAM)));
    // Slot 1 follows the stage while slot 0's peer is silent: past the deadline it takes position 1 over.
    next.beginStage(STAGE);
    await next.shareTurn(STAGE, 'train/0', [complete]);
    next.setOrder(STAGE, ORDER);
    t.true(await next.awaitTurn(STAGE, 1), 'the next peer took its position over');
    await next.sendUpdate(STAGE, 1, update(1, 1));
    t.is(await next.receiveUpdate(STAGE, 0), undefined, 'position 0 counted skipped where it was taken over');

    // Slot 0's peer comes to the stage late: position 0 is its first, and the token starts with it,
    // but the team has decided that position without it.
    await until('the shard and the update at the late peer', () => late.shards.counters.received === 2);
    late.beginStage(STAGE);
    late.setOrder(STAGE, ORDER);
    t.false(await late.awaitTurn(STAGE, 0), 'the late peer does not take its turn');
    t.is((await late.receiveUpdate(STAGE, 1))?.record.klQuantile, 0.02, 'and follows the update after it');
  } finally {
    await Promise.all([late.stop(), next.stop()]);
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test('a holder taken over while it made its update sends none: the team went on without it, and so does it', async (t) => {
  const hosts = await team(2);
  const ids = hosts.map((h) => h.peerId);
  const said: string[] = [];
  // Keepalives hold a position for at most half the link's wait: 3 s here.
  const [slow, next] = [
    link(hosts[0], 0, ids, { waitMs: 6_000, deadlineMs: 300, log: (l) => said.push(l) }),
    link(hosts[1], 1, ids, { waitMs: 6_000, deadlineMs: 300 }),
  ];
  try {
    for (const l of [slow, next]) await l.start();
    await until('subscriptions', () => subscribed(hosts, blocksTopic(TEAM)) && subscribed(hosts, tokenTopic(TEAM)));
    for (const l of [slow, next]) l.beginStage(STAGE);
    await slow.shareTurn(STAGE, 'train/0', [{ ...complete, turns: complete.turns.slice(0, 1) }]);
    await next.shareTurn(STAGE, 'train/0', [complete]);
    await until('the rollout at the slow peer', () => slow.rolledOut(STAGE));
    for (const l of [slow, next]) l.setOrder(STAGE, ORDER);
    t.true(await slow.awaitTurn(STAGE, 0));
    // Its update takes longer than keepalives hold a position: the next peer takes the token over.
    t.true(await next.awaitTurn(STAGE, 1), 'the next peer took its position over');
    await until('the takeover heard', () => slow.token.silence.position === 1);
    t.false(await slow.sendUpdate(STAGE, 0, update(0, 2)), 'the update came after the team went on without it');
    const rejected = next.token.counters.rejected + next.token.counters.ignored;
    await new Promise((r) => setTimeout(r, 500));
    t.is(
      next.token.counters.rejected + next.token.counters.ignored,
      rejected,
      'and it keeps the position alive no more',
    );
    t.regex(said.at(-1) ?? '', /^stage 3: a later position's peer took the token over while this peer made its update/);
    await next.sendUpdate(STAGE, 1, update(1, 1));
    t.is(await next.receiveUpdate(STAGE, 0), undefined, 'position 0 counted skipped');
    t.is(slow.shards.counters.published, 1, 'the slow peer published its turn, and no update');
    t.is(next.shards.counters.received, 1, 'nor did the next peer get one');
  } finally {
    await Promise.all([slow.stop(), next.stop()]);
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test(
  'an observer of a stage that went on without it reads the turns from the ' +
    'complete shard and fetches by CID the update of a peer that is gone',
  async (t) => {
    const hosts = await team(3);
    const ids = hosts.map((h) => h.peerId);
    const links = [link(hosts[0], 0, ids), link(hosts[1], 1, ids)];
    // The observer is slot 0's peer restarted: a new process, whose link starts after the stage's updates.
    const observer = link(hosts[2], 0, ids);
    try {
      for (const l of links) await l.start();
      await until('subscriptions', () => hosts.slice(0, 2).every((h) => h.subscribers(tokenTopic(TEAM)).length >= 1));
      links.forEach((l) => l.beginStage(STAGE));
      await links[1].shareTurn(STAGE, 'train/0', [complete]);
      await until('the complete shard at slot 0', () => links[0].rolledOut(STAGE));
      links.forEach((l) => l.setOrder(STAGE, ORDER));
      t.true(await links[0].awaitTurn(STAGE, 0));
      await links[0].sendUpdate(STAGE, 0, update(0, 2));
      t.true(await links[1].awaitTurn(STAGE, 1));
      t.is((await links[1].receiveUpdate(STAGE, 0))?.record.klQuantile, 0.01);
      await links[1].sendUpdate(STAGE, 1, update(1, 1));
      // Slot 0's peer is gone: its update is announced no more, only named in slot 1's.
      await links[0].stop();
      await hosts[0].stop();

      await observer.start();
      observer.beginStage(STAGE, true);
      observer.setOrder(STAGE, ORDER);
      const mine: ChainTranscript = { promptIds: complete.promptIds, turns: [] };
      const first = await observer.remoteTurn(STAGE, 'train/0', 0).take([mine], 0);
      t.deepEqual(
        first,
        [{ tokens: [8, 9], logprobs: [-0.5, -1.25] }],
        "its own slot's turn, as its killed process spoke it",
      );
      const got = await observer.receiveUpdate(STAGE, 0);
      t.deepEqual(
        got && [...got.logpNew],
        [-0.75, -0.75],
        "the gone peer's update, fetched by CID from the peer that named it",
      );
      t.is((await observer.receiveUpdate(STAGE, 1))?.record.name, 'second');
      t.is(observer.token.counters.handoffs, 0, 'the observer never held the token');
    } finally {
      await Promise.all([links[1].stop(), observer.stop()]);
      await Promise.all(hosts.slice(1).map((h) => h.stop()));
    }
  },
);

for (const [overrule, then] of [
  [false, 'no later update follows it'],
  [true, 'one that finds it holds up excludes the refuser'],
] as const)
  test(`an update the next peer refused reaches every peer marked refused; ${then}`, async (t) => {
    const hosts = await team(3);
    const ids = hosts.map((h) => h.peerId);
    const excluded: string[] = [];
    const make = (i: number) =>
      new PeerLink(hosts[i], {
        team: TEAM,
        slot: i,
        slots: 3,
        names: ['first', 'second', 'third'],
        turnsPerRollout: 3,
        peers: () => new Map(ids.map((p, s) => [s, p])),
        claims: () => true, // the test shares whole rollouts from one peer
        isMember: () => true,
        deadlineMs: 2_000,
        waitMs: 15_000,
        exclude: (peer) => void excluded.push(peer.toString()),
      });
    const links = [make(0), make(1), make(2)];
    const three: ChainTranscript = {
      promptIds: complete.promptIds,
      turns: [...complete.turns, { slot: 2, ids: [11], logprobs: [-0.5] }],
    };
    try {
      for (const l of links) await l.start();
      await until('subscriptions', () => subscribed(hosts, tokenTopic(TEAM)) && subscribed(hosts, blocksTopic(TEAM)));
      links.forEach((l) => l.beginStage(STAGE));
      await links[2].shareTurn(STAGE, 'train/0', [three]);
      await until('the complete shard everywhere', () => links.every((l) => l.rolledOut(STAGE)));
      links.forEach((l) => l.setOrder(STAGE, [0, 1, 2]));
      t.true(await links[0].awaitTurn(STAGE, 0));
      await links[0].sendUpdate(STAGE, 0, update(0, 2));
      t.true(await links[1].awaitTurn(STAGE, 1));
      t.falsy((await links[1].receiveUpdate(STAGE, 0))?.refusedLater);
      links[1].refuseUpdate(STAGE, 0, 'its record claims klQuantile 0.01, its log-probs give 0.02');
      t.deepEqual(excluded, [ids[0].toString()], 'its maker excluded');
      await links[1].sendUpdate(STAGE, 1, update(1, 1));
      // The third peer was handed nothing about position 0: slot 1's update tells it.
      const got = await links[2].receiveUpdate(STAGE, 0);
      t.true(got?.refusedLater, 'marked refused, for this peer to check it too');
      t.is(got?.record.klQuantile, 0.01);
      t.true(await links[2].awaitTurn(STAGE, 2));
      // Its own check: the update does not hold up, or (overrule) it does.
      if (overrule) links[2].refusalOverruled(STAGE, 0);
      else links[2].refuseUpdate(STAGE, 0, 'its record claims klQuantile 0.01, its log-probs give 0.02');
      t.deepEqual(excluded, [ids[0], overrule ? ids[1] : ids[0]].map(String));
      await links[2].sendUpdate(STAGE, 2, update(2, 1));
      t.is((await links[1].receiveUpdate(STAGE, 2))?.mine, 'kept', "slot 1's peer learns its update stands");
      // The refused update's maker is excluded: nothing undoes its update.
      t.is((await links[0].receiveUpdate(STAGE, 1))?.mine, undefined);
      const [second, third] = [links[1], links[2]].map((l) =>
        l.stageContent(STAGE).updates.map((c) => Buffer.from(c).toString('hex')),
      );
      t.is(second.length, 2, 'the stage included the updates of positions 1 and 2');
      t.deepEqual(third, second, 'alike on both peers');
    } finally {
      await Promise.all(links.map((l) => l.stop()));
      await Promise.all(hosts.map((h) => h.stop()));
    }
  });

test('the last holder goes silent: every peer counts its position skipped and follows the update before it', async (t) => {
  const hosts = await team(3);
  const ids = hosts.map((h) => h.peerId);
  const names = ['first', 'second', 'third'];
  const make = (i: number) =>
    new PeerLink(hosts[i], {
      team: TEAM,
      slot: i,
      slots: 3,
      names,
      turnsPerRollout: 3,
      peers: () => new Map(ids.map((p, s) => [s, p])),
      claims: () => true, // the test shares whole rollouts from one peer
      isMember: () => true,
      deadlineMs: 300,
      waitMs: 15_000,
    });
  // Slot 2's peer holds the last position and never takes part.
  const links = [make(0), make(1)];
  const order = [0, 1, 2];
  const three: ChainTranscript = {
    promptIds: complete.promptIds,
    turns: [...complete.turns, { slot: 2, ids: [11], logprobs: [-0.5] }],
  };
  try {
    for (const l of links) await l.start();
    await until('subscriptions', () =>
      hosts
        .slice(0, 2)
        .every((h) => h.subscribers(tokenTopic(TEAM)).length >= 1 && h.subscribers(blocksTopic(TEAM)).length >= 1),
    );
    links.forEach((l) => l.beginStage(STAGE));
    await links[1].shareTurn(STAGE, 'train/0', [three]);
    await until('the complete shard at slot 0', () => links[0].rolledOut(STAGE));
    links.forEach((l) => l.setOrder(STAGE, order));
    t.true(await links[0].awaitTurn(STAGE, 0));
    await links[0].sendUpdate(STAGE, 0, { ...update(0, 2), record: { ...update(0, 2).record } });
    t.true(await links[1].awaitTurn(STAGE, 1));
    await links[1].receiveUpdate(STAGE, 0);
    await links[1].sendUpdate(STAGE, 1, update(1, 1));
    // Slot 0's peer reads the stage on: position 1 by its update, position 2 skipped.
    t.is((await links[0].receiveUpdate(STAGE, 1))?.record.klQuantile, 0.02);
    t.is(await links[0].receiveUpdate(STAGE, 2), undefined);
    t.is(await links[1].receiveUpdate(STAGE, 2), undefined);
  } finally {
    await Promise.all(links.map((l) => l.stop()));
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test(
  'an observer counts a silent last position skipped once the other ' +
    'peers are past the stage, and follows the update before it',
  async (t) => {
    const hosts = await team(2);
    const ids = hosts.map((h) => h.peerId);
    const first = link(hosts[0], 0, ids);
    // Slot 1's peer restarted after it took the token for the last position and went silent.
    let past = false;
    const observer = link(hosts[1], 1, ids, { teamPast: () => past });
    try {
      await first.start();
      await observer.start();
      await until('subscriptions', () => subscribed(hosts, blocksTopic(TEAM)));
      first.beginStage(STAGE);
      await first.shareTurn(STAGE, 'train/0', [complete]);
      first.setOrder(STAGE, ORDER);
      t.true(await first.awaitTurn(STAGE, 0));
      await first.sendUpdate(STAGE, 0, update(0, 2));
      t.is(await first.receiveUpdate(STAGE, 1), undefined, 'the live peer counts the silent last position skipped');

      observer.beginStage(STAGE, true);
      observer.setOrder(STAGE, ORDER);
      const waited = Date.now();
      const last = observer.receiveUpdate(STAGE, 1);
      await new Promise((r) => setTimeout(r, 1_000));
      past = true; // the other peer's heartbeat says it is past the stage
      t.is(await last, undefined);
      t.true(Date.now() - waited >= 4_000, 'not before the others were past the stage for two repeats');
      t.is((await observer.receiveUpdate(STAGE, 0))?.record.klQuantile, 0.01, 'and the update before it counts');
    } finally {
      await Promise.all([first.stop(), observer.stop()]);
      await Promise.all(hosts.map((h) => h.stop()));
    }
  },
);

test(
  'a rollout larger than a shard goes as several: the others read ' +
    'it whole, and an observer fetches every part an update names',
  async (t) => {
    const hosts = await team(3);
    const ids = hosts.map((h) => h.peerId);
    const peers = new Map(ids.slice(0, 2).map((p, s) => [s, p]));
    const make = (host: PeerHost, slot: number) =>
      new PeerLink(host, {
        team: TEAM,
        slot,
        slots: 2,
        names: NAMES,
        turnsPerRollout: 2,
        peers: () => peers,
        claims: () => true, // the test shares whole rollouts from one peer
        isMember: () => true,
        deadlineMs: 400,
        waitMs: 20_000,
        shardBytes: 1_700,
      });
    const links = [make(hosts[0], 0), make(hosts[1], 1)];
    const observer = make(hosts[2], 0); // slot 0's peer restarted
    // Twenty transcripts of about 100 bytes: about seven to a shard of 1,700 bytes less its header.
    const rollout = Array.from({ length: 20 }, (_, r): ChainTranscript => ({ ...complete, promptIds: [5, 6, 7 + r] }));
    try {
      for (const l of links) await l.start();
      await until('subscriptions', () =>
        hosts
          .slice(0, 2)
          .every((h) => h.subscribers(tokenTopic(TEAM)).length >= 1 && h.subscribers(blocksTopic(TEAM)).length >= 1),
      );
      links.forEach((l) => l.beginStage(STAGE));
      await links[0].shareTurn(STAGE, 'train/0', rollout);
      const parts = links[0].shards.counters.published;
      t.true(parts >= 3, `${parts} shards`);
      await until('every part at slot 1', () => links[1].rolledOut(STAGE));
      t.deepEqual(
        (await links[1].rollout(STAGE, 'train/0')).map((x) => x.promptIds),
        rollout.map((x) => x.promptIds),
        'read whole, in order',
      );
      links.forEach((l) => l.setOrder(STAGE, ORDER));
      t.true(await links[0].awaitTurn(STAGE, 0));
      await links[0].sendUpdate(STAGE, 0, update(0, 40));
      t.true(await links[1].awaitTurn(STAGE, 1));
      await links[1].receiveUpdate(STAGE, 0);
      await links[1].sendUpdate(STAGE, 1, update(1, 20));
      // The parts' maker is gone: the observer learns of them only from slot 1's update, which names them all.
      await links[0].stop();
      await hosts[0].stop();

      await observer.start();
      observer.beginStage(STAGE, true);
      observer.setOrder(STAGE, ORDER);
      const mine = rollout.map((x): ChainTranscript => ({ promptIds: x.promptIds, turns: [] }));
      const turns = await observer.remoteTurn(STAGE, 'train/0', 0).take(mine, 0);
      t.is(turns.length, 20, "its own slot's turns, from the parts fetched by CID");
      t.is((await observer.receiveUpdate(STAGE, 1))?.record.name, 'second');
      t.is((await observer.receiveUpdate(STAGE, 0))?.record.name, 'first');
      t.is(observer.shards.counters.received, parts + 2, 'every part and both updates, each fetched once');
    } finally {
      await Promise.all([links[1].stop(), observer.stop()]);
      await Promise.all(hosts.slice(1).map((h) => h.stop()));
    }
  },
);

test("a turn is waited for past the link's wait, saying so, until its peer makes it: the stage does not fail", async (t) => {
  const hosts = await team(2);
  const ids = hosts.map((h) => h.peerId);
  const peers = new Map(ids.map((p, s) => [s, p]));
  const said: string[] = [];
  const make = (slot: number, log?: (l: string) => void) =>
    new PeerLink(hosts[slot], {
      team: TEAM,
      slot,
      slots: 2,
      names: NAMES,
      turnsPerRollout: 2,
      peers: () => peers,
      claims: (slot: number, peer: PeerId) => peers.get(slot)?.equals(peer) === true,
      isMember: () => true,
      waitMs: 500,
      ...(log ? { log } : {}),
    });
  const [first, second] = [make(0), make(1, (l) => said.push(l))];
  try {
    for (const l of [first, second]) await l.start();
    await until('subscriptions', () => subscribed(hosts, blocksTopic(TEAM)));
    for (const l of [first, second]) l.beginStage(STAGE);
    const mine: ChainTranscript = { promptIds: complete.promptIds, turns: [] };
    const waiting = second.remoteTurn(STAGE, 'train/0', 0).take([mine], 0);
    // Slot 0's peer makes its turn only after four times the link's wait (as a restarted peer would).
    await new Promise((r) => setTimeout(r, 2_000));
    await first.shareTurn(STAGE, 'train/0', [{ ...complete, turns: complete.turns.slice(0, 1) }]);
    t.deepEqual(await waiting, [{ tokens: [8, 9], logprobs: [-0.5, -1.25] }]);
    t.true(said.length >= 2, said.join('\n'));
    t.regex(
      said[0],
      new RegExp(
        String.raw`^waited \d+ s for turn 1 of stage 3's rollout train\/0 \(slot 0\): the ` +
          'team goes on once its peer is back or another peer takes the slot$',
      ),
    );
  } finally {
    await Promise.all([first.stop(), second.stop()]);
    await Promise.all(hosts.map((h) => h.stop()));
  }
});

test('two peers of a slot that make a chunk byte for byte alike each say it holds up: the turn is whole at once', async (t) => {
  const keys = await Promise.all([0, 1, 2].map(() => generateKeyPair('Ed25519')));
  const hosts = await team(3, keys);
  const [trainer, replica, other] = hosts.map((h) => h.peerId);
  const lines = [[trainer, replica], [other]];
  const said: string[] = [];
  const attestations = hosts.map((h, i) => new Attestations(h, { team: TEAM, slots: 2, privateKey: keys[i] }));
  const links = hosts.map(
    (h, i) =>
      new PeerLink(h, {
        team: TEAM,
        slot: i < 2 ? 0 : 1,
        slots: 2,
        names: NAMES,
        turnsPerRollout: 2,
        peers: () =>
          new Map([
            [0, trainer],
            [1, other],
          ]),
        claims: (slot: number, peer: PeerId) => lines[slot].some((p) => p.equals(peer)),
        line: (slot) => lines[slot],
        isMember: () => true,
        deadlineMs: 300,
        attestations: attestations[i],
        log: (l) => said.push(l),
      }),
  );
  // Row r's turn as the seeded sampler makes it, whichever batch it is made in: two copies of a chunk are the same bytes.
  const rows = 16;
  const sampled = (rs: readonly number[]) =>
    rs.map((r) => ({ tokens: [r + 1], logprobs: [-0.5], finishReason: 'eos' as const }));
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let replicaMakes = 0;
  // The trainer's chunks come late: the replica makes them too, past the deadline, and both copies go out at once.
  const makes = [
    async (rs: readonly number[]) => {
      await gate;
      return sampled(rs);
    },
    async (rs: readonly number[]) => {
      if (++replicaMakes > 1) await gate;
      return sampled(rs);
    },
  ];
  try {
    for (const a of attestations) a.start();
    for (const l of links) await l.start();
    await until('subscriptions', () => subscribed(hosts, blocksTopic(TEAM)) && subscribed(hosts, attestTopic(TEAM)));
    for (const l of links) l.beginStage(STAGE);
    const start = () => Array.from({ length: rows }, (_, r) => ({ promptIds: [r], turns: [] }));
    // Each re-scores a row it checks as it was sampled.
    const maker = {
      generator: { generate: async () => [] },
      rescore: async (ts: readonly ChainTranscript[]) => ts.map(() => 0),
    };
    const turns = [0, 1].map((i) => links[i].sharedTurn(STAGE, 'train/0', 0, maker)!.take(start(), 0, makes[i]));
    turns.push(links[2].remoteTurn(STAGE, 'train/0', 0).take(start(), 0));
    await until("the replica's second make", () => replicaMakes === 2);
    const opened = Date.now();
    open();
    for (const turn of await Promise.all(turns))
      t.deepEqual(
        turn.map((g) => g.tokens),
        sampled(Array.from({ length: rows }, (_, r) => r)).map((g) => g.tokens),
      );
    t.true(Date.now() - opened < 10_000, 'whole well before an unchecked chunk is taken (60 s)');
    t.false(
      said.some((l) => /taken unchecked/.test(l)),
      said.join('\n'),
    );
  } finally {
    for (const l of links) await l.stop();
    for (const a of attestations) a.stop();
    await Promise.all(hosts.map((h) => h.stop()));
  }
});
