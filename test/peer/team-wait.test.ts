// The team's stage as a restarting peer reads it from heartbeats: the majority's, so one peer that says
// it is far ahead moves nothing.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { teamStage } from '../../node/peer/team-wait.ts';
import type { Roster } from '../../node/protocol/roster.ts';

/** A roster whose slot i is held by `peers[i]`, whose heartbeats say stage `stages[i]`. */
const roster = (peers: PeerId[], stages: number[]) =>
  ({ holders: () => peers, stageOf: (slot: number) => stages[slot] }) as unknown as Roster;

test("the team's stage is the highest that more than half of the other slots' peers say they are in or past", async (t) => {
  const ids = await Promise.all(
    [0, 1, 2, 3, 4].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))),
  );
  const me = ids[0];
  const at = (stages: number[]) => teamStage(roster(ids.slice(0, stages.length), stages), me);
  t.is(at([0]), 0, 'no other peer: stage 0');
  t.is(at([1, 7]), 7, 'one other peer: its word');
  t.is(at([1, 7, 107]), 7, 'one of two says a hundred stages ahead: the lower');
  t.is(at([1, 7, 8, 107]), 8, 'one of three: the median');
  t.is(at([1, 7, 7, 8, 8]), 7, 'a team moving from stage 7 to 8, half of it there: 7');
  t.is(at([9, 3, 3]), 3, "this peer's own stage is not counted");
});
