// Stage digests: a hash chain over what each stage included, alike for equal content and different for
// any change; kept in the data dir so a restart continues the chain; a peer with no chain takes the
// previous digest every other peer names; another peer's digest that differs is said once and counted.
import test from 'ava';
import { createHash } from 'node:crypto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { StageDigests, stageDigest } from '../../node/peer/stage-digests.ts';
import { tempDir } from '../temp-dir.ts';

const cid = (n: number) => Uint8Array.from([1, 0x55, 0x12, 32, ...new Array(32).fill(n)]);
const CONTENT = { updates: [cid(1), cid(2)], shards: [cid(3)] };
const TEAM = 'bafkreiteam';
const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : undefined);
const peer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'));

test('a stage digest is a function of the previous digest, the stage and every CID in its place', (t) => {
  const prev = new Uint8Array(32).fill(9);
  const d = hex(stageDigest(prev, 3, CONTENT));
  t.is(hex(stageDigest(prev, 3, { updates: [cid(1), cid(2)], shards: [cid(3)] })), d);
  for (const [what, other] of [
    ['another previous digest', stageDigest(new Uint8Array(32), 3, CONTENT)],
    ['another stage', stageDigest(prev, 4, CONTENT)],
    ['an update left out', stageDigest(prev, 3, { ...CONTENT, updates: [cid(1)] })],
    ['updates in another order', stageDigest(prev, 3, { ...CONTENT, updates: [cid(2), cid(1)] })],
    ['an update counted as a shard', stageDigest(prev, 3, { updates: [cid(1)], shards: [cid(2), cid(3)] })],
  ] as const)
    t.not(hex(other), d, what);
});

test('the chain goes on across a restart, and a peer that lost its data dir takes the digest the others name', async (t) => {
  const dir = tempDir('sat-digests-');
  const said: string[] = [];
  const first = new StageDigests(dir, TEAM, (l) => said.push(l));
  const one = first.add(1, CONTENT);
  const two = first.add(2, { updates: [cid(4)], shards: [cid(5)] });
  const restarted = new StageDigests(dir, TEAM, (l) => said.push(l));
  const three = restarted.add(3, CONTENT);
  t.is(hex(three), hex(stageDigest(two!, 3, CONTENT)), 'stage 3 chains the digest of stage 2 from the file');
  t.is(hex(one), hex(stageDigest(createHash('sha256').update(TEAM).digest(), 1, CONTENT)));

  const wiped = new StageDigests(tempDir('sat-digests-'), TEAM, (l) => said.push(l));
  t.is(wiped.add(3, CONTENT), undefined, 'no chain, no one to ask: no digest');
  const [a, b] = [await peer(), await peer()];
  wiped.hear(a, 3, three!);
  wiped.hear(b, 3, three!);
  t.is(hex(wiped.add(4, CONTENT)), hex(stageDigest(three!, 4, CONTENT)), 'the digest the others agree on');
  t.deepEqual(said, []);
});

test("another peer's digest of a stage is compared with this peer's, heard before or after; a mismatch is said once", async (t) => {
  const said: string[] = [];
  const digests = new StageDigests(tempDir('sat-digests-'), TEAM, (l) => said.push(l));
  const [honest, other] = [await peer(), await peer()];
  const theirs = stageDigest(new Uint8Array(32), 1, CONTENT);
  digests.hear(other, 1, theirs); // heard before this peer logged stage 1
  const mine = digests.add(1, CONTENT)!;
  digests.hear(honest, 1, mine);
  digests.hear(other, 1, theirs);
  t.is(said.length, 1);
  t.regex(
    said[0],
    new RegExp(`stage 1's digest differs between this peer \\(${hex(mine)!.slice(0, 16)}…\\) and peer ${other}`),
  );
  t.deepEqual([...digests.mismatchFrom], [[other.toString(), 1]]);
});

test('a peer that restarted within a stage takes its digest from the others when they agree, and none when not', async (t) => {
  const said: string[] = [];
  const digests = new StageDigests(tempDir('sat-digests-'), TEAM, (l) => said.push(l));
  const [a, b] = [await peer(), await peer()];
  const theirs = stageDigest(new Uint8Array(32), 2, CONTENT);
  t.is(digests.adopt(2), undefined, 'no one spoke of stage 2 yet');
  digests.hear(a, 2, theirs);
  digests.hear(b, 2, stageDigest(new Uint8Array(32), 2, { updates: [], shards: [] }));
  t.is(digests.adopt(2), undefined, 'they disagree');
  const fresh = new StageDigests(tempDir('sat-digests-'), TEAM, (l) => said.push(l));
  fresh.hear(a, 2, theirs);
  t.is(hex(fresh.adopt(2)), hex(theirs));
  t.is(hex(fresh.add(3, CONTENT)), hex(stageDigest(theirs, 3, CONTENT)), 'and its chain goes on from it');
  t.deepEqual(said, []);
});
