// Token passing between three real peers on loopback: the token follows the stage's order with acked
// hand-offs that every peer sees; a holder that dies mid-turn is taken over by the next in order
// after the deadline; a duplicate pass or garbage on the stream changes nothing.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { contentId } from '../../node/protocol/cid.ts';
import { PROTOCOL_VERSION, type TokenPass, encodeTokenPass } from '../../node/protocol/codec.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { TOKEN_PROTOCOL, type Turn, TokenPassing, tokenTopic } from '../../node/protocol/token-passing.ts';
import { lpStream } from '@libp2p/utils';
import { until } from './until.ts';

const TEAM = contentId(new TextEncoder().encode('a test team')).toString();

/** Three connected peers holding slots 0, 1, 2, each with its token service; every turn is recorded. */
async function team(deadlineMs: number, maxHoldMs?: number) {
  const hosts = await Promise.all(
    [0, 1, 2].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  const turns: (Turn & { at: number })[][] = hosts.map(() => []);
  const peers = new Map<number, PeerId>(hosts.map((h, slot) => [slot, h.peerId]));
  const tokens = hosts.map(
    (h, slot) =>
      new TokenPassing(h, {
        team: TEAM,
        slot,
        slots: 3,
        deadlineMs,
        ...(maxHoldMs ? { maxHoldMs } : {}),
        peers: () => peers,
        stage: () => 0,
        onTurn: (turn) => turns[slot].push({ ...turn, at: Date.now() }),
      }),
  );
  for (const t of tokens) await t.start();
  await hosts[1].dial(hosts[0].addresses[0]);
  await hosts[2].dial(hosts[0].addresses[0]);
  await hosts[2].dial(hosts[1].addresses[0]);
  await until('token subscriptions', () => hosts.every((h) => h.subscribers(tokenTopic(TEAM)).length === 2)).catch(
    (err) => {
      throw new Error(
        `${err.message}: ${hosts.map((h) => h.subscribers(tokenTopic(TEAM)).length)} subscribers, ` +
          `${hosts.map((h) => h.libp2p.getPeers().length)} peers`,
      );
    },
  );
  const stop = async () => {
    for (const t of tokens) await t.stop().catch(() => undefined);
    await Promise.all(hosts.map((h) => h.stop().catch(() => undefined)));
  };
  return { hosts, tokens, turns, peers, stop };
}

/** Sends `pass` from `from` to `to`'s token protocol on a fresh stream: whether it was acked. */
async function sendPass(from: PeerHost, to: PeerHost, pass: Partial<TokenPass>): Promise<boolean> {
  const lp = lpStream(await from.libp2p.dialProtocol(to.peerId, TOKEN_PROTOCOL));
  await lp.write(encodeTokenPass({ version: PROTOCOL_VERSION, team: TEAM, time: Date.now(), ...pass } as TokenPass));
  return lp.read({ signal: AbortSignal.timeout(5_000) }).then(
    () => true,
    () => false,
  );
}

test('the token follows the order with acked hand-offs, and every peer takes its position once', async (t) => {
  const { hosts, tokens, turns, peers, stop } = await team(5_000);
  try {
    const order = [2, 0, 1];
    tokens.forEach((tp) => tp.beginStage({ stage: 1, order, peers }));
    for (const [position, slot] of order.entries()) {
      await until(`position ${position}`, () => turns[slot].length === 1);
      t.is(turns[slot][0].position, position);
      t.false(turns[slot][0].takeover);
      if (position > 0) t.is(turns[slot][0].pass?.from, order[position - 1]);
      const update = contentId(Uint8Array.of(position));
      t.true(await tokens[slot].handOff(position, update), `the hand-off from position ${position} is acked`);
      if (position + 1 < order.length) await until('the next turn', () => turns[order[position + 1]].length === 1);
    }
    t.deepEqual(
      Array.from(turns[0][0].pass?.update ?? []),
      Array.from(contentId(Uint8Array.of(0)).bytes),
      "the pass names the holder's update",
    );
    t.deepEqual(
      turns.map((x) => x.length),
      [1, 1, 1],
    );
    t.deepEqual(
      tokens.map((tp) => tp.counters.takeovers),
      [0, 0, 0],
    );
    // A replayed pass for a position already held changes nothing.
    await tokens[2].handOff(0).catch(() => undefined);
    t.deepEqual(
      turns.map((x) => x.length),
      [1, 1, 1],
    );
    // Garbage on the token protocol is rejected, that stream reset, and the next stage runs as before.
    const raw = await hosts[2].libp2p.dialProtocol(hosts[0].peerId, TOKEN_PROTOCOL);
    await lpStream(raw).write(Uint8Array.of(0x08, 0xff, 0xff, 0xff));
    await until('the rejection', () => tokens[0].counters.rejected === 1);
    tokens.forEach((tp) => tp.beginStage({ stage: 2, order: [2, 0, 1], peers }));
    await until('stage 2, position 0', () => turns[2].length === 2);
    t.true(await tokens[2].handOff(0));
    await until('stage 2, position 1', () => turns[0].length === 2);
  } finally {
    await stop();
  }
});

test('a holder that dies mid-turn is taken over by the next in order once the deadline passes', async (t) => {
  const deadline = 800;
  const { hosts, tokens, turns, peers, stop } = await team(deadline);
  try {
    const order = [0, 1, 2];
    tokens.forEach((tp) => tp.beginStage({ stage: 3, order, peers }));
    await until('position 0', () => turns[0].length === 1);
    await tokens[0].handOff(0);
    await until('position 1', () => turns[1].length === 1);
    // Slot 1's peer dies holding the token.
    const died = Date.now();
    await tokens[1].stop();
    await hosts[1].stop();
    await until('the takeover', () => turns[2].length === 1, 10 * deadline);
    const taken = turns[2][0];
    t.is(taken.position, 2);
    t.true(taken.takeover);
    t.is(tokens[2].counters.takeovers, 1);
    const waited = taken.at - died;
    t.true(
      waited >= deadline * 0.5 && waited < 3 * deadline,
      `took over after ${waited} ms with a ${deadline} ms deadline`,
    );
  } finally {
    await stop();
  }
});

test('a pass from a peer that holds neither end of it is refused, directly and by gossip', async (t) => {
  const { hosts, tokens, turns, peers, stop } = await team(60_000);
  const outsider = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  try {
    await outsider.dial(hosts[0].addresses[0]);
    tokens.forEach((tp) => tp.beginStage({ stage: 1, order: [2, 0, 1], peers }));
    await until('position 0', () => turns[2].length === 1);
    const forged = encodeTokenPass({
      version: PROTOCOL_VERSION,
      team: TEAM,
      stage: 1,
      position: 1,
      from: 2,
      to: 0,
      time: Date.now(),
    });
    const raw = await outsider.libp2p.dialProtocol(hosts[0].peerId, TOKEN_PROTOCOL);
    await lpStream(raw).write(forged);
    await until('the direct refusal', () => tokens[0].counters.rejected === 1);
    outsider.subscribe(
      tokenTopic(TEAM),
      () => ({ ok: false, reason: 'unused' }),
      () => undefined,
    );
    await until('the outsider in the mesh', () => outsider.subscribers(tokenTopic(TEAM)).length >= 1);
    await until('the gossip refusal', () => {
      void outsider.publish(tokenTopic(TEAM), forged);
      return tokens[0].counters.rejected >= 2;
    });
    t.is(turns[0].length, 0, 'slot 0 did not take a forged token');
    // The real holder's pass still goes through.
    t.true(await tokens[2].handOff(0));
    await until('position 1', () => turns[0].length === 1);
  } finally {
    await outsider.stop();
    await stop();
  }
});

test('a holder that works past the deadline but keeps the token alive is not taken over', async (t) => {
  const deadline = 600;
  const { tokens, turns, peers, stop } = await team(deadline);
  try {
    tokens.forEach((tp) => tp.beginStage({ stage: 1, order: [0, 1, 2], peers }));
    await until('position 0', () => turns[0].length === 1);
    await new Promise((r) => setTimeout(r, 4 * deadline)); // a long update
    t.deepEqual(
      tokens.map((tp) => tp.counters.takeovers),
      [0, 0, 0],
    );
    t.true(await tokens[0].handOff(0));
    await until('position 1', () => turns[1].length === 1);
    t.false(turns[1][0].takeover);
  } finally {
    await stop();
  }
});

test('a holder that keeps the token alive but never hands it on is taken over once its hold runs out', async (t) => {
  const [deadline, maxHold] = [500, 2_000];
  const { tokens, turns, peers, stop } = await team(deadline, maxHold);
  try {
    const began = Date.now();
    tokens.forEach((tp) => tp.beginStage({ stage: 1, order: [0, 1, 2], peers }));
    await until('position 0', () => turns[0].length === 1);
    // Slot 0's peer keeps alive every third of a deadline, and never hands on.
    await until('the takeover', () => turns[1].length === 1, 10 * maxHold);
    const waited = turns[1][0].at - began;
    t.true(turns[1][0].takeover);
    t.true(waited >= maxHold && waited < maxHold + 3 * deadline, `taken over after ${waited} ms`);
    t.is(tokens[2].counters.takeovers, 0, 'the next in order took it, once');
  } finally {
    await stop();
  }
});

test('a pass for a stage not begun yet is kept only from a member holding an end of it, and is not crowded out', async (t) => {
  const { hosts, tokens, turns, peers, stop } = await team(60_000);
  const outsider = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  try {
    await outsider.dial(hosts[0].addresses[0]);
    // A peer holding no slot: passes for a far stage and for the next one, more than the buffer holds.
    let acked = 0;
    for (let i = 0; i < 20; i++) {
      const stage = i % 2 ? 4_000_000_000 + i : 1;
      if (await sendPass(outsider, hosts[0], { stage, position: 1 + (i % 2), from: 1, to: 0 })) acked++;
    }
    t.is(acked, 0, "no outsider's pass is acked");
    t.is(tokens[0].counters.rejected, 20);
    t.is(tokens[0].counters.rejectedFrom.get(outsider.peerId.toString()), 20);
    // A member's pass for a stage too far ahead is refused too.
    t.false(await sendPass(hosts[1], hosts[0], { stage: 5, position: 1, from: 1, to: 0 }));
    // Slot 1's peer hands position 1 of stage 1 to slot 0 before slot 0 began it: kept, acked, and taken at the start.
    t.true(await sendPass(hosts[1], hosts[0], { stage: 1, position: 1, from: 1, to: 0 }));
    tokens.forEach((tp) => tp.beginStage({ stage: 1, order: [1, 0, 2], peers }));
    await until('the early pass taken', () => turns[0].length === 1);
    t.is(turns[0][0].position, 1);
    t.is(turns[0][0].pass?.from, 1);
  } finally {
    await outsider.stop();
    await stop();
  }
});

test('one member cannot fill the passes kept for stages not begun yet', async (t) => {
  const { hosts, turns, tokens, peers, stop } = await team(60_000);
  try {
    // Slot 1's peer makes up passes to slot 0 for every (stage, position) it may: only 4 are kept.
    let kept = 0;
    for (const stage of [2, 1])
      for (const position of [0, 2, 1])
        if (await sendPass(hosts[1], hosts[0], { stage, position, from: 1, to: 0 })) kept++;
    t.is(kept, 4);
    // Slot 2's peer still has room: its pass of position 1 in stage 1 is kept, and taken when the stage begins.
    t.true(await sendPass(hosts[2], hosts[0], { stage: 1, position: 1, from: 2, to: 0 }));
    tokens.forEach((tp) => tp.beginStage({ stage: 1, order: [2, 0, 1], peers }));
    await until('the early pass taken', () => turns[0].length === 1);
    t.like(turns[0][0], { stage: 1, position: 1, pass: { from: 2 } });
  } finally {
    await stop();
  }
});
