// Peers that start together do not race for a slot: three real peers choosing a free slot of a two-slot
// team at the same moment end on two different slots, alike on every peer, and the third becomes a replica
// of the first slot, behind its holder on every peer.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { freeSlot } from '../../node/peer/slot-choice.ts';
import { Admission, type TeamManifest, Workflow, teamId } from '../../node/protocol/codec.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { Roster, claimsTopic } from '../../node/protocol/roster.ts';
import { until } from '../protocol/until.ts';

const TOKENIZER = new Uint8Array(32).fill(7);
const MANIFEST: TeamManifest = {
  version: 5,
  name: 'slot choice test',
  workflow: Workflow.CHAIN,
  config: '{}',
  admission: Admission.OPEN,
  allow: [],
  upgrades: false,
  slots: [
    { role: 'first', family: 'qwen3', tokenizer: TOKENIZER },
    { role: 'second', family: 'qwen3', tokenizer: TOKENIZER },
  ],
  dataset: { name: 'demo', uri: '', cid: contentId(new TextEncoder().encode('the training set')).bytes },
};

test('three peers choosing a free slot at once: two take different slots, alike everywhere, the third a replica', async (t) => {
  const team = teamId(MANIFEST);
  const hosts = await Promise.all(
    [0, 1, 2].map(async () =>
      PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ),
  );
  const rosters = hosts.map((h) => new Roster(h, { team, manifest: MANIFEST, livenessMs: 3000, heartbeatMs: 300 }));
  try {
    for (const r of rosters) r.start();
    await hosts[1].dial(hosts[0].addresses[0]);
    await hosts[2].dial(hosts[0].addresses[0]);
    await hosts[2].dial(hosts[1].addresses[0]);
    await until('subscriptions', () => hosts.every((h) => h.subscribers(claimsTopic(team)).length === 2));
    const chosen = await Promise.all(
      rosters.map((r, i) =>
        freeSlot(
          r,
          2,
          () => true,
          (s) => r.claim(s, 'qwen3', TOKENIZER),
          hosts[i].peerId,
        ),
      ),
    );
    const holding = chosen.filter((c) => !c.replica).map((c) => c.slot);
    t.deepEqual([...holding].sort(), [0, 1], 'two peers, two slots');
    const replica = chosen.findIndex((c) => c.replica);
    t.is(chosen[replica].slot, 0, 'the third is a replica of the lowest slot with the fewest peers');
    const lines = (r: Roster) => [0, 1].map((s) => r.line(s).map(String));
    await until('every peer hears the replica', () => rosters.every((r) => r.line(0).length === 2));
    for (const r of rosters) t.deepEqual(lines(r), lines(rosters[0]), 'every peer ranks the same peers alike');
    t.is(lines(rosters[0])[0][1], hosts[replica].peerId.toString(), 'the replica is behind the holder');
  } finally {
    for (const r of rosters) r.stop();
    await Promise.all(hosts.map((h) => h.stop()));
  }
});
