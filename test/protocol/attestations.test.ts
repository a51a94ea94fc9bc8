// Attestations between real peers: a replica's signed word on an update reaches another peer over gossip and
// still checks out when passed on as evidence; one whose bytes were changed after signing does not, and a peer
// gossiping another's attestation as its own is dropped and counted.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { Attestations, attestTopic, evidenceOf } from '../../node/protocol/attestations.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { Attestation } from '../../node/protocol/codec.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { until } from './until.ts';

const TEAM = contentId(new TextEncoder().encode('a team')).toString();
const UPDATE = contentId(new TextEncoder().encode('an update')).bytes;
const update = contentId(new TextEncoder().encode('an update')).toString();

test('a signed attestation is heard, checks out as evidence, and fails once changed or passed on by another', async (t) => {
  const keys = await Promise.all([0, 1, 2].map(() => generateKeyPair('Ed25519')));
  const hosts = await Promise.all(
    keys.map((privateKey) => PeerHost.start({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] })),
  );
  const [replica, peer, relay] = hosts.map(
    (h, i) => new Attestations(h, { team: TEAM, slots: 2, privateKey: keys[i] }),
  );
  try {
    for (const a of [replica, peer, relay]) a.start();
    await hosts[1].dial(hosts[0].addresses[0]);
    await hosts[2].dial(hosts[1].addresses[0]);
    await until('subscriptions', () => hosts[1].subscribers(attestTopic(TEAM)).length === 2);
    await replica.attest({
      stage: 3,
      position: 1,
      slot: 0,
      update: UPDATE,
      holds: false,
      why: 'logp_new is off',
      abstains: false,
    });
    await until('the attestation heard', () => peer.of(update).length === 1);
    const [heard] = peer.of(update);
    t.true(heard.signer.equals(hosts[0].peerId));
    t.like(heard.attestation, { stage: 3, position: 1, slot: 0, holds: false, why: 'logp_new is off' });

    // Passed on inside an update, it still checks out; its bytes changed after signing, it does not.
    t.true((await evidenceOf(heard.bytes, TEAM, 2))?.signer.equals(hosts[0].peerId));
    const forged = Attestation.encode({ ...heard.attestation, holds: true, why: '' });
    t.is(await evidenceOf(forged, TEAM, 2), undefined);
    t.is(await evidenceOf(heard.bytes, contentId(new Uint8Array(1)).toString(), 2), undefined, 'of another team');

    // Gossiped as its own by another peer: dropped, counted.
    await hosts[2].publish(attestTopic(TEAM), heard.bytes);
    await until('the relayed one dropped', () => peer.dropped.get('signature') === 1);
    t.is(peer.of(update).length, 1);
  } finally {
    for (const a of [replica, peer, relay]) a.stop();
    await Promise.all(hosts.map((h) => h.stop()));
  }
});
