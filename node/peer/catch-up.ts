// A restarted peer rejoining its team (docs/design §5.2): it evaluates again a stage whose evaluation its
// kill cut short, then follows the stages that went on without it until it can take part again.
import { followStage, resumeEvaluation, type StageLoop } from '../sat/stage-loop.ts';
import { sleep, until } from '../util/until.ts';
import type { JoinedPeer } from './join.ts';
import { teamStage, waitForTeam } from './team-wait.ts';

/** How long a restarted peer listens to heartbeats before it decides where the team is. */
const CATCH_UP_MS = 4_000;
/** How long it listens for a sign that the team's stage is past its rollout (a complete rollout, an update). */
const ROLLOUT_WAIT_MS = 15_000;

/** Rejoins the team after a restart from its last saved stage; resolves with the last stage done. */
export async function rejoin(p: JoinedPeer, loop: StageLoop, signal: AbortSignal): Promise<number> {
  if (p.unlogged) await evaluateAgain(p, loop, p.saved, signal);
  return signal.aborted ? p.saved : catchUp(p, loop, p.saved, signal);
}

/**
 * A peer killed during a stage's evaluation restarts from that stage, saved with its agent's update
 * (which the team counted), before the row was logged; the others wait for its turns in the
 * evaluation. It takes them again, then logs the row from the saved record.
 */
async function evaluateAgain(p: JoinedPeer, loop: StageLoop, stage: number, signal: AbortSignal): Promise<void> {
  p.init.log(`stage ${stage} was saved but its evaluation was cut short: taking part in it again`);
  p.roster.setStage(stage);
  if (!(await waitForTeam(p, stage, signal))) return;
  p.link.beginStage(stage);
  await resumeEvaluation(loop, p.unlogged!);
}

/**
 * A restarted peer rejoins where the team is. A stage whose rollout is complete goes on without
 * it (its agent skips the stage's update, its state stays as last saved): it follows that stage
 * from what the others make, logging the row they log, takes its turns in the stage's evaluation,
 * and joins the next one. A stage still rolling out needs its turns: it joins that one.
 */
async function catchUp(p: JoinedPeer, loop: StageLoop, done: number, signal: AbortSignal): Promise<number> {
  await sleep(CATCH_UP_MS, signal);
  const now = teamStage(p.roster, p.host.peerId);
  if (now <= done || signal.aborted) return done;
  // What the team has of that stage is gossiped again at least every 8 s: listen a while before deciding.
  await until(() => p.link.rolledOut(now), { every: 200, timeoutMs: ROLLOUT_WAIT_MS, signal });
  if (signal.aborted) return done;
  if (now > done + 1) p.init.log(`stages ${done + 1}..${now - 1} went on without this agent`);
  if (!p.link.rolledOut(now)) return now - 1;
  // Its updates go on without this agent, but the stage's evaluation takes every slot's turns.
  p.init.log(
    `the team is past stage ${now}'s rollout: following it without this agent's update, taking part in its ` +
      `evaluation, then rejoining at stage ${now + 1}`,
  );
  p.roster.setStage(now); // its heartbeats say where it is: a peer restarting meanwhile reads the team's stage from them
  p.link.beginStage(now, true);
  // A replica follows the evaluation too: its slot's turns there are its trainer's (docs/design §4.16).
  const trainer = p.roster.holder(p.slot, now);
  const replica = trainer !== undefined && !trainer.equals(p.host.peerId);
  if (replica) p.followed = { stage: now, trainer };
  await followStage(loop, now, replica);
  return now;
}
