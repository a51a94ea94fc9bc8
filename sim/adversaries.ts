// The sim's adversaries (`sat-peer sim --adversary <kind>@<slot>[.<replica>]`): a slot's trainer, or one of its
// replicas, that trains and sends what an attacker would, through the hooks of node/peer/adversary-hooks.ts. Each
// kind is one way to cheat the team, and every honest peer must catch it (docs/design §4.15, §4.17).
import type { AdversaryHooks } from '../node/peer/adversary-hooks.ts';
import type { ParamSource } from '../node/agent/model/weights.ts';
import type { TrajectoryShard } from '../node/protocol/codec.ts';
import { maxHold } from '../node/peer/peer-link.ts';
import { DEADLINE_MS } from '../node/protocol/token-passing.ts';
import { sleep } from '../node/util/until.ts';

export const ADVERSARY_KINDS = {
  'kl-lie': 'its records claim a smaller KL quantile than its log-probs give',
  'kl-violation': "it trains a hundred times past the team's trust region and claims the team's delta",
  'forged-turn': "it sends the next slot's turn of each training rollout before that slot's peer does",
  'fake-stage': 'its heartbeats say it is a hundred stages ahead of the team',
  'endless-keepalive': 'it holds the token with keepalives past the longest hold before it sends its update',
  'logp-offset': "its updates' logp_new are 0.1 below what its new weights give",
  'garbage-weights': 'the new weights its updates name for its replicas to check are not the ones it trained',
  'withhold-chunks': 'it serves no chunk it holds: not the weights its updates name, not its slot state',
  'bad-chunks': 'every block it serves on /sat/chunks/1 has one byte changed',
  'backdated-claim':
    "its slot claim is dated 1970, to outrank the slot's trainer (as a replica, it joins once the others have " +
    'listened a liveness window, as a peer joining a running team does)',
  'off-sampler-tokens':
    "its share of its slot's turns is sampled from streams not its rows' own: tokens the policy might give, with " +
    'their true log-probs, but not those the seeded sampler draws',
} as const;

export type AdversaryKind = keyof typeof ADVERSARY_KINDS;

export const isAdversaryKind = (kind: string): kind is AdversaryKind => Object.hasOwn(ADVERSARY_KINDS, kind);

/** The hooks that make a peer an adversary of `kind`, on a team whose token-passing deadline is `deadlineMs`. */
export function adversaryOf(kind: AdversaryKind, deadlineMs = DEADLINE_MS): AdversaryHooks {
  switch (kind) {
    case 'kl-lie':
      return { update: async (u) => ({ ...u, record: { ...u.record!, kl: u.record!.kl / 2 + 1e-4 } }) };
    case 'kl-violation': {
      let teamDelta = 0;
      return {
        config: (cfg) => {
          teamDelta = cfg.algorithm.klCtrl.targetKl;
          const klCtrl = { ...cfg.algorithm.klCtrl, targetKl: 100 * teamDelta };
          return { ...cfg, algorithm: { ...cfg.algorithm, klCtrl } };
        },
        update: async (u) => ({ ...u, record: { ...u.record!, delta: u.record!.accepted ? teamDelta : 0 } }),
      };
    }
    case 'forged-turn':
      return {
        shards: (parts) => [...parts, ...parts.filter((p) => p.rollout.startsWith('train/')).map(nextTurnForged)],
      };
    case 'fake-stage':
      return { heartbeat: (beat) => ({ ...beat, stage: beat.stage + 100 }) };
    case 'endless-keepalive':
      // Then it goes on, to evaluate with the team: its slot's agent lives on no other peer.
      return { update: (u) => sleep(maxHold(deadlineMs) + 4 * deadlineMs).then(() => u) };
    case 'logp-offset':
      return { update: async (u) => ({ ...u, logprobs: u.logprobs.map((x) => Math.fround(x - 0.1)) }) };
    case 'garbage-weights':
      return { params: garbled };
    case 'withhold-chunks':
      return { chunk: () => undefined };
    case 'bad-chunks':
      return { chunk: (_, block) => block.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    case 'backdated-claim':
      return { claim: (c) => ({ ...c, time: 1 }) };
    case 'off-sampler-tokens':
      return {
        turnRows: (make) => (rows) =>
          make(
            rows,
            rows.map((r) => r + 100_000),
          ),
      };
  }
}

/** `src`'s tensors each moved by a tenth along a fixed wave: no longer the trained ones. */
function garbled(src: ParamSource): ParamSource {
  const moved = new Map(
    [...src.current()].map(([n, t]) => [n, { ...t, data: t.data.map((x, i) => x + 0.1 * Math.sin(i)) }]),
  );
  return { ...src, current: () => moved };
}

/** `part` with a turn after its last in every trajectory, as if the next slot's peer had taken it: its own tokens again. */
function nextTurnForged(part: TrajectoryShard): TrajectoryShard {
  return {
    ...part,
    trajectories: part.trajectories.map((t) => {
      const last = t.turns.at(-1)!;
      return { ...t, turns: [...t.turns, { ...last, slot: last.slot + 1 }] };
    }),
  };
}
