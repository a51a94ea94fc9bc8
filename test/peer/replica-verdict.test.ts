// What a slot's replicas say of an update: only attestations of that update by peers that claim its slot (and did not
// make it) count, one per signer, and the update is refused when more of them find it wrong than right.
import test from 'ava';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { Signed } from '../../node/protocol/attestations.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { counting, verdictOf, verifierTurn } from '../../node/peer/replica-verdict.ts';

const cidOf = (s: string) => contentId(new TextEncoder().encode(s));
const UPDATE = cidOf('the update');

async function peers(n: number): Promise<PeerId[]> {
  return Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))));
}

const said = (signer: PeerId, holds: boolean, over: Partial<Signed['attestation']> = {}): Signed => ({
  signer,
  bytes: new Uint8Array(),
  attestation: {
    version: 5,
    team: 't',
    stage: 2,
    position: 1,
    slot: 0,
    update: UPDATE.bytes,
    holds,
    why: holds ? '' : 'logp_new is off',
    abstains: false,
    ...over,
  },
});

test("only the slot's replicas' word on that update counts, once each; the majority decides", async (t) => {
  const [maker, a, b, c, outsider] = await peers(5);
  const replicas = new Set([a, b, c].map(String));
  const u = {
    cid: UPDATE.toString(),
    stage: 2,
    position: 1,
    slot: 0,
    maker,
    claims: (slot: number, p: PeerId) => slot === 0 && (replicas.has(p.toString()) || p.equals(maker)),
  };
  const counted = counting(
    [
      said(a, false),
      said(a, true), // the same signer again
      said(maker, true), // its maker's word on its own update
      said(outsider, true), // no claim on the slot
      said(b, true, { update: cidOf('another update').bytes }),
      said(b, true, { position: 0 }),
      said(c, true, { stage: 3 }),
    ],
    u,
  );
  t.deepEqual(
    counted.map((s) => s.signer.toString()),
    [a.toString()],
  );
  t.regex(
    verdictOf(counted) ?? '',
    /^1 of 1 of its slot's replicas found it does not hold up \(12D3KooW.*: logp_new is off\)$/,
  );
  t.is(verdictOf(counting([said(a, false), said(b, true)], u)), undefined, 'a tie keeps the update');
  t.truthy(verdictOf(counting([said(a, false), said(b, false), said(c, true)], u)));
  t.is(verdictOf([]), undefined, 'no word, no refusal');
  const abstained = said(b, false, { abstains: true, why: 'not in step' });
  t.truthy(verdictOf(counting([said(a, false), abstained], u)), 'one not in step does not count');
});

test('the first two replicas of an update’s ranking check it, the next as one abstains or, once, as a deadline passes', (t) => {
  const ranked = ['a', 'b', 'c', 'd'];
  const turn = (me: string, words: Record<string, 'abstains' | 'checked'>, elapsedMs = 0) =>
    verifierTurn(ranked, me, new Map(Object.entries(words)), elapsedMs, 30_000, 60_000);
  t.deepEqual(
    ranked.map((p) => turn(p, {})),
    ['check', 'check', 'wait', 'wait'],
  );
  t.is(turn('c', { a: 'abstains' }), 'check', 'one ahead abstained: the third comes in at once');
  t.is(turn('d', { a: 'abstains' }), 'wait');
  t.is(turn('c', {}, 30_000), 'check', 'a deadline without a word brings the third in');
  t.is(turn('d', {}, 45_000), 'wait', 'one more only');
  t.is(turn('d', {}, 60_000), 'done', 'two deadlines on, no peer waits for its word');
  t.is(turn('d', { a: 'abstains' }, 30_000), 'check');
  t.is(turn('d', { a: 'checked', b: 'checked' }, 90_000), 'done', 'two checked it: no one else need');
  t.is(turn('e', {}), 'check', 'a replica the line does not have yet checks it');
});
