// Which slot of the team a peer claims (docs/design §4.6): the one it asks for, if its model fits it, or
// the first free one it fits; and when a newcomer may take a held slot over.
import { InputError } from '../agent/errors.ts';
import { ClaimError } from '../protocol/errors.ts';
import type { PeerId } from '@libp2p/interface';
import type { Roster } from '../protocol/roster.ts';
import { sleep, until } from '../util/until.ts';
import type { TeamFile } from './manifest.ts';
import { majorityStage } from './team-wait.ts';

/** How long a newcomer waits to hear every slot's peer before it claims one. */
const TEAM_WAIT_MS = 120_000;

/** Whether the team's `slot` takes a model of this tokenizer (its hash). */
export const slotFits = (file: TeamFile, slot: number, tokenizerHash: string): boolean =>
  Buffer.from(file.manifest.slots[slot].tokenizer!).toString('hex') === tokenizerHash;

/**
 * Refuses a --slot the team lacks, or one whose tokenizer differs from the model's; without --slot, a model that
 * fits no slot at all.
 */
export function checkSlot(file: TeamFile, slot: number | undefined, model: string, tokenizerHash: string): void {
  const slots = file.manifest.slots;
  if (slot === undefined) {
    if (slots.some((_, s) => slotFits(file, s, tokenizerHash))) return;
    throw new InputError(
      `${model} fits no slot of this team: its tokenizer differs from every slot's (${slots.length} slots); ` +
        `start with a model of the team's tokenizer (sat-peer team show lists the slots)`,
    );
  }
  if (slot >= slots.length)
    throw new InputError(`the team has ${slots.length} slots (0..${slots.length - 1}), not slot ${slot}`);
  if (!slotFits(file, slot, tokenizerHash))
    throw new InputError(`${model} has another tokenizer than slot ${slot} of the team needs`);
}

/**
 * The lowest slot this model fits that no live peer holds, claimed (`claim`): after a heartbeat round and a half of
 * listening, so every live claim is heard, and again after claiming it, so a claim made at the same time is heard too.
 * Claims rank alike on every peer (docs/design §4.6): a peer whose claim lost takes the next free slot. With every
 * slot held, the peer becomes a replica of the one with the fewest peers (the lowest of those): `replica` is true.
 */
export async function freeSlot(
  roster: Roster,
  slots: number,
  fits: (slot: number) => boolean,
  claim: (slot: number) => Promise<void>,
  me: PeerId,
): Promise<{ slot: number; replica: boolean }> {
  const round = 1.5 * roster.heartbeatMs;
  await sleep(round);
  const fitting = Array.from({ length: slots }, (_, s) => s).filter(fits);
  for (;;) {
    const holders = roster.holders();
    const free = fitting.find((s) => !holders[s]);
    if (free === undefined) {
      const peers = (s: number) => roster.line(s).filter((p) => !p.equals(me)).length;
      const slot = fitting.reduce((best, s) => (peers(s) < peers(best) ? s : best));
      await claim(slot);
      return { slot, replica: true };
    }
    await claim(free);
    await sleep(round);
    if (roster.holder(free)?.equals(me)) return { slot: free, replica: false };
  }
}

/**
 * A newcomer hears the team first: every peer must learn its claim before the stage it names begins,
 * so that stage must lie at least two ahead of the team's.
 */
export async function checkUpgradeStage(roster: Roster, slots: number, at: number): Promise<void> {
  await until(() => roster.holders().every((p) => p), { every: 200, timeoutMs: TEAM_WAIT_MS });
  const stages = roster.holders().flatMap((p, s) => (p ? [roster.stageOf(s, p) ?? 0] : []));
  if (stages.length < slots)
    throw new ClaimError(
      `the team is not complete (${stages.length} of ${slots} slots held): a slot can be taken over once the team runs`,
    );
  // The team's stage as most of its peers say: one peer saying it is far ahead cannot push the upgrade back.
  const now = majorityStage(stages);
  if (at < now + 2)
    throw new ClaimError(
      `the team is in stage ${now}: take the slot over at stage ${now + 2} or later (--upgrade-at), so every peer ` +
        `hears the claim before that stage begins`,
    );
}
