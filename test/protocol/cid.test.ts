// Content addressing: CIDv1, raw, sha2-256 over the bytes; only that form is accepted from peers.
import test from 'ava';
import { createHash } from 'node:crypto';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { base58btc } from 'multiformats/bases/base58';
import { cidFromBytes, cidFromString, contentId, verifyContent } from '../../node/protocol/cid.ts';

const bytes = new TextEncoder().encode('a trajectory shard');

test('contentId is CIDv1, raw, sha2-256 of the bytes', (t) => {
  const cid = contentId(bytes);
  t.is(cid.version, 1);
  t.is(cid.code, 0x55);
  t.is(cid.multihash.code, 0x12);
  t.deepEqual(Buffer.from(cid.multihash.digest), createHash('sha256').update(bytes).digest());
  t.true(cid.toString().startsWith('bafkrei'));
  t.true(cid.equals(contentId(Uint8Array.from(bytes))));
  t.false(cid.equals(contentId(new Uint8Array(0))));
});

test('verifyContent holds for the named bytes only', (t) => {
  const cid = contentId(bytes);
  t.true(verifyContent(cid, bytes));
  const flipped = Uint8Array.from(bytes);
  flipped[3] ^= 1;
  t.false(verifyContent(cid, flipped));
  t.false(verifyContent(cid, bytes.subarray(1)));
  // The same digest under another codec (dag-pb) or as CIDv0 names nothing here.
  t.false(verifyContent(CID.createV1(0x70, cid.multihash), bytes));
  t.false(verifyContent(CID.createV0(Digest.create(0x12, cid.multihash.digest)), bytes));
});

test('cidFromBytes and cidFromString accept the canonical form only', (t) => {
  const cid = contentId(bytes);
  t.true(cidFromBytes(cid.bytes)?.equals(cid));
  t.is(cidFromString(cid.toString())?.toString(), cid.toString());
  t.is(cidFromBytes(new Uint8Array(0)), undefined);
  t.is(cidFromBytes(cid.bytes.subarray(0, cid.bytes.length - 1)), undefined);
  t.is(cidFromBytes(Uint8Array.from([...cid.bytes, 0])), undefined);
  t.is(cidFromBytes(CID.createV1(0x70, cid.multihash).bytes), undefined);
  t.is(cidFromString(cid.toString(base58btc)), undefined); // another base: not canonical
  t.is(cidFromString(cid.toString().toUpperCase()), undefined);
  t.is(cidFromString('not a cid'), undefined);
  t.is(cidFromString(''), undefined);
});
