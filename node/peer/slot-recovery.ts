// A peer getting its slot's state back from the team (docs/design §4.14): one whose disk is gone (or that carries on
// a slot another peer held) starts with no saved stage, or an older one than the team's newest state of its slot. It
// fetches that state from the peers that keep it, makes it its own latest saved stage, and rejoins from there as a
// restarted peer does (catch-up.ts).
import path from 'node:path';
import fs from 'node:fs';
import { InputError } from '../agent/errors.ts';
import type { Manifest } from '../protocol/chunk-codec.ts';
import { LIVENESS_MS } from '../protocol/roster.ts';
import { commitSlotState, readySlotState, restoreSlot, slotStateNames } from '../sat/checkpoints.ts';
import { unloggedStage } from '../sat/stage-loop.ts';
import { until } from '../util/until.ts';
import { fetchProgress } from './fetch-progress.ts';
import { type JoinedPeer, sessionOf } from './join.ts';
import { type HeardState, stateLabel } from './slot-states.ts';
import { teamStage } from './team-wait.ts';

/** How long a peer listens for the other slots' stages (their heartbeats) before deciding whether to look further. */
const TEAM_MS = 6_000;
/** How long it then listens for its slot's newest state. */
const STATE_MS = 10_000;

/**
 * Takes the newest state of this peer's slot the team has, when it is newer than what this peer saved; resolves
 * with the peer's last saved stage after it (`p.saved`, updated).
 */
export async function recoverSlot(p: JoinedPeer, signal: AbortSignal): Promise<number> {
  const { roster, slot, states, init } = p;
  const me = p.host.peerId;
  const othersHeard = () =>
    roster.holders().every((h, s) => s === slot || (h !== undefined && roster.stageOf(s, h) !== undefined));
  await until(othersHeard, { every: 200, timeoutMs: TEAM_MS, signal });
  const team = teamStage(roster, me);
  // A slot's state is offered once its stage is logged: the team, in stage `team`, has at most that of the one before.
  if (team - 1 <= p.saved || signal.aborted) return p.saved;
  await until(() => (states.newest(slot)[0]?.stage ?? 0) >= team - 1, { every: 200, timeoutMs: STATE_MS, signal });
  for (const state of states.newest(slot).filter((s) => s.stage > p.saved)) {
    if (signal.aborted) break;
    try {
      await takeState(p, state, signal, {
        why: `is newer than this peer's (${p.saved === 0 ? 'none' : `stage ${p.saved}`})`,
        taken: 'taken from the team: resuming after it',
      });
      await holdSlot(p, signal);
      return p.saved;
    } catch (err) {
      init.log(`slot ${slot}'s state of stage ${state.stage} could not be taken: ${(err as Error).message}`);
    }
  }
  if (p.saved === 0 && !signal.aborted)
    init.log(
      `the team is in stage ${team} but no peer offers slot ${slot}'s state: this agent starts from its model, ` +
        'catching up with the team',
    );
  return p.saved;
}

/**
 * Fetches `state`, checks it, puts the agent in it and makes it this peer's latest saved stage (only once the agent
 * took it: a state that fails leaves the peer's checkpoints as they were). `say` finishes its two lines: why it is
 * fetched, and what taking it means.
 */
export async function takeState(
  p: JoinedPeer,
  state: HeardState,
  signal: AbortSignal,
  say: { why: string; taken: string },
): Promise<void> {
  const { cfg, slot, init } = p;
  const mb = (state.bytes / 1e6).toFixed(1);
  init.log(
    `slot ${slot}'s state of stage ${state.stage} (${mb} MB) ${say.why}: fetching it from ${state.peers.length} peer(s)`,
  );
  const manifest = await p.chunks.fetch(state.cid, state.peers, {
    label: stateLabel(slot),
    bytes: state.bytes,
    check: fitsAgent(p, state),
    onProgress: fetchProgress(init.log, `slot ${slot}'s state`),
    signal,
  });
  const dir = path.join(cfg.logging.saveDir, 'checkpoints', 'fetched.tmp');
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    await p.chunks.materialize(manifest, dir, slotStateNames(cfg, slot));
    readySlotState(cfg, slot, dir, state.stage, init.model);
    await p.agent.releaseIncumbent();
    restoreSlot(cfg, dir, slot, p.agent, sessionOf(init));
    commitSlotState(cfg, dir, state.stage);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  p.saved = state.stage;
  const unlogged = unloggedStage(cfg, state.stage);
  if (unlogged) p.unlogged = unlogged;
  else delete p.unlogged;
  init.log(`slot ${slot}'s state of stage ${state.stage} ${say.taken}`);
}

/**
 * Refuses, before any chunk comes, a state whose trained tensors (listed in its manifest) are not this agent's: of
 * another model, or another trainable set.
 */
function fitsAgent(p: JoinedPeer, state: HeardState): (m: Manifest) => void {
  return (m) => {
    let tensors: Record<string, unknown> | undefined;
    try {
      tensors = (JSON.parse(new TextDecoder().decode(m.meta)) as { tensors?: Record<string, unknown> }).tensors;
    } catch {
      // no list: refused below
    }
    for (const [name, { shape }] of p.agent.trainer.paramSource().current()) {
      const theirs = tensors?.[name];
      if (!Array.isArray(theirs) || theirs.join() !== shape.join())
        throw new InputError(
          `slot ${p.slot}'s state of stage ${state.stage} does not fit this agent: its ${name} is ` +
            `${Array.isArray(theirs) ? `[${theirs.join(', ')}]` : 'missing'}, this agent's [${shape.join(', ')}] ` +
            '(another model, or another trainable set)',
        );
    }
  };
}

/**
 * Waits (a while) until the roster names this peer the slot's holder: a silent holder's claim lapses. A holder heard
 * within the last two heartbeat rounds is alive, and this peer is its replica (docs/design §4.16): no wait.
 */
async function holdSlot(p: JoinedPeer, signal: AbortSignal): Promise<void> {
  const holds = () => p.roster.holder(p.slot)?.equals(p.host.peerId) ?? false;
  const holder = p.roster.holder(p.slot);
  const heard = holder && p.roster.heard(p.slot, holder)?.lastSeen;
  if (holds() || (heard !== undefined && Date.now() - heard < 2 * p.roster.heartbeatMs)) return;
  p.init.log(`slot ${p.slot} is still claimed by ${p.roster.holder(p.slot)}: waiting for that peer to fall silent`);
  await until(holds, { every: 200, timeoutMs: 2 * LIVENESS_MS, signal });
}
