// An update's new policy tensors on their way to its slot's replicas (docs/design §4.16): the trainer writes them
// as one safetensors file, offered as a chunk manifest whose CID its update names; a replica fetches them from the
// trainer (and every peer that serves them), to re-score the update's tokens under them.
import path from 'node:path';
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { freezeParams, loadParams, saveParams } from '../agent/model/frozen-params.ts';
import type { LoraConfig, ParamSource } from '../agent/model/weights.ts';
import { manifestBytes } from '../protocol/chunk-codec.ts';
import { adversaryHooks } from './adversary-hooks.ts';
import type { PeerChunks } from './peer-chunks.ts';

/** The one entry of an update's manifest. */
const TENSORS = 'params.safetensors';

/** The label an update's tensors are pinned under: one version a slot, the latest. */
const label = (slot: number) => `update/${slot}`;

/** Offers `params` (this peer's slot's new policy tensors, from `dir`) to the team: their manifest's CID. */
export async function offerWeights(chunks: PeerChunks, dir: string, slot: number, params: ParamSource): Promise<CID> {
  const file = path.join(dir, `update-${slot}.safetensors`);
  const frozen = freezeParams(params);
  saveParams(file, adversaryHooks().params?.(frozen) ?? frozen);
  return (await chunks.offer({ [TENSORS]: file }, label(slot))).cid;
}

/** How long a replica waits for an update's tensors before it gives up on checking the update. */
const FETCH_MS = 10 * 60_000;

/**
 * The policy tensors of manifest `cid`, fetched from `from` into `dir`: at most `maxBytes` (a manifest of more is
 * refused before any chunk), within ten minutes.
 */
export async function fetchWeights(
  chunks: PeerChunks,
  dir: string,
  slot: number,
  cid: CID,
  from: PeerId,
  o: { maxBytes: number; lora?: LoraConfig },
): Promise<ReadonlyMap<string, { data: Float32Array }>> {
  const manifest = await chunks.fetch(cid, [from], {
    label: label(slot),
    signal: AbortSignal.timeout(FETCH_MS),
    check: (m) => {
      if (manifestBytes(m) > o.maxBytes)
        throw new Error(
          `its weights' manifest holds ${manifestBytes(m)} bytes, more than the ${o.maxBytes} this slot's tensors take`,
        );
    },
  });
  const file = path.join(dir, `update-${slot}.safetensors`);
  await chunks.store.materialize(manifest, file, { entry: TENSORS });
  return loadParams(file, o.lora).current();
}
