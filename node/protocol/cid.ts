// Content addressing (docs/design §4.3): trajectory shards, log-prob updates and the team manifest are
// named by the CID of their encoded bytes — CIDv1, codec raw (0x55), sha2-256 — and the team id is
// the manifest's CID as a string (base32, `bafkrei...`). Only this one form is accepted from peers.
import { createHash } from 'node:crypto';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';

/** The CID of `bytes`. */
export function contentId(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, Digest.create(sha256.code, createHash('sha256').update(bytes).digest()));
}

/** Whether `bytes` are what `cid` names (and `cid` has the one form contentId gives). */
export function verifyContent(cid: CID, bytes: Uint8Array): boolean {
  return isContentId(cid) && cid.equals(contentId(bytes));
}

const isContentId = (cid: CID): boolean =>
  cid.version === 1 && cid.code === raw.code && cid.multihash.code === sha256.code && cid.multihash.size === 32;

/** The CID in `bytes` (a CID's binary form, nothing after it), or undefined unless it is one contentId could give. */
export function cidFromBytes(bytes: Uint8Array): CID | undefined {
  try {
    const cid = CID.decode(bytes);
    return isContentId(cid) ? cid : undefined;
  } catch {
    return undefined;
  }
}

/** The CID written as `text`, or undefined unless it is the canonical string of one contentId could give. */
export function cidFromString(text: string): CID | undefined {
  try {
    const cid = CID.parse(text);
    return isContentId(cid) && cid.toString() === text ? cid : undefined;
  } catch {
    return undefined;
  }
}
