// What a slot's replicas say of its update (docs/design §4.16): the attestations that count, and the verdict they
// make. An attestation counts when its signer claims the update's slot at its stage and did not make the update
// itself, and it names that update, stage, position and slot. The update is refused when more of those that count
// say it does not hold up than say it does.
import type { PeerId } from '@libp2p/interface';
import type { Signed } from '../protocol/attestations.ts';
import { cidFromBytes } from '../protocol/cid.ts';
import { shortId } from '../util/short-id.ts';

/** At most this many replicas of a slot are waited for, for their word on an update. */
export const VERIFIERS = 2;

/** The update an attestation must name, and who may sign one that counts. */
export interface Checked {
  cid: string;
  stage: number;
  position: number;
  slot: number;
  /** The update's maker: its word on its own update does not count. */
  maker?: PeerId;
  /** Whether `peer` claims `slot` at `stage`. */
  claims: (slot: number, peer: PeerId, stage: number) => boolean;
}

/** The attestations of `signed` that count for `u`, one per signer. */
export function counting(signed: readonly Signed[], u: Checked): Signed[] {
  const seen = new Set<string>();
  return signed.filter(({ attestation: a, signer }) => {
    const ok =
      cidFromBytes(a.update!)?.toString() === u.cid &&
      a.stage === u.stage &&
      a.position === u.position &&
      a.slot === u.slot &&
      !(u.maker && signer.equals(u.maker)) &&
      u.claims(u.slot, signer, u.stage) &&
      !seen.has(signer.toString());
    seen.add(signer.toString());
    return ok;
  });
}

/**
 * Why the replicas refuse the update, by majority of those of `counted` (see counting) that checked it; undefined when
 * they do not.
 */
export function verdictOf(counted: readonly Signed[]): string | undefined {
  const checked = counted.filter((s) => !s.attestation.abstains);
  const against = checked.filter((s) => !s.attestation.holds);
  if (against.length * 2 <= checked.length) return undefined;
  const [first] = against;
  return (
    `${against.length} of ${checked.length} of its slot's replicas found it does not hold up ` +
    `(${shortId(first.signer.toString())}: ${first.attestation.why})`
  );
}

/**
 * Whether the replica `me` re-scores an update now (docs/design §4.16): `ranked` is the slot's line without the
 * update's maker, in its rendezvous order for the update, and `words` what each peer of it said so far ('abstains' or
 * 'checked'). The first VERIFIERS that do not abstain check it; a `deadlineMs` that passes without enough words
 * brings one more in (one only: the peer waiting for the words waits two deadlines, and a slow check is no silent one),
 * and a replica the line does not have yet checks it too. 'done' once VERIFIERS checked it, or once `waitMs` passed (no
 * peer waits for a word after that).
 */
export function verifierTurn(
  ranked: readonly string[],
  me: string,
  words: ReadonlyMap<string, 'abstains' | 'checked'>,
  elapsedMs: number,
  deadlineMs: number,
  waitMs: number,
): 'check' | 'wait' | 'done' {
  if ([...words.values()].filter((w) => w === 'checked').length >= VERIFIERS) return 'done';
  const rank = ranked.indexOf(me);
  if (rank < 0) return 'check';
  const ahead = ranked.slice(0, rank).filter((p) => words.get(p) !== 'abstains').length;
  if (ahead - Math.min(1, Math.floor(elapsedMs / deadlineMs)) < VERIFIERS) return 'check';
  return elapsedMs >= waitMs ? 'done' : 'wait';
}
