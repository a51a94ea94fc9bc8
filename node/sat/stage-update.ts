// Updates in order (docs/design §1.7): agent sigma(i) learns under pi^{i-1}, the team with
// sigma(1..i-1) already updated, through the sequence-aware estimator and a KL-bounded update. A
// remote agent's update arrives with its log-probs, and its record is recomputed from them: one they
// contradict is refused and skipped (docs/design §4.15), as is one whose peer fell silent.
import type { Agent } from '../agent/agent.ts';
import { isRatios, truncate } from '../agent/learner/importance.ts';
import { type UpdateBatch, type UpdateConfig, stage0Update, trustRegionUpdate } from '../agent/learner/update.ts';
import type { ConfigValues } from '../config/load.ts';
import { concat } from '../util/arrays.ts';
import type { AgentStageRecord, ArrivedUpdate, SharedUpdate } from './stage.ts';
import { type AgentAdvantages, type StageAdvantages, advantagesOf } from './stage-advantages.ts';
import {
  type StageRollout,
  type Trajectory,
  meanReward,
  ownIds,
  ownPositions,
  ownTokens,
  rowsOf,
  setOwnTokens,
} from './stage-rollout.ts';
import { type StageRun, linkOf, timed } from './stage-run.ts';
import { type UpdateInputs, refusalOf, skippedRecord, updateRecord } from './update-record.ts';
import { replicaCheck } from './replica-check.ts';
import { paramsDigest } from '../agent/model/frozen-params.ts';
import type { TrainerSnapshot } from '../agent/train/trainer-state.ts';

/** How far V may move from V_old in one update when training.clip_vf is on (verl's cliprange_value). */
const VALUE_CLIP = 0.5;

/** An agent's place in the order: its position, its slot, and the trajectories it spoke in. */
interface Block {
  position: number;
  slot: number;
  rows: Trajectory[];
}

/** Each agent's update in the order sigma, and its record (in that order). */
export async function updateInOrder(
  run: StageRun,
  rollout: StageRollout,
  advantages: StageAdvantages,
  order: readonly number[],
): Promise<AgentStageRecord[]> {
  const updated = new Set<number>();
  const records: AgentStageRecord[] = [];
  const blocks = order.map((slot, position) => blockOf(rollout, position, slot));
  // A replica checks its slot's updates as they arrive: the next position's peer waits for its word (docs/design §4.16).
  const { replica } = run.team;
  const checks = replica
    ? blocks.filter((b) => b.slot === replica.slot).map((b) => checkAsReplica(run, b, replica.agent))
    : [];
  const skipped = (b: Block) => skippedRecord(b.slot, nameOf(run.cfg, b.slot), meanReward(b.rows));
  /** The updates this peer sent, with what undoes each, by position, until a later update says what became of them. */
  const sentHere: SentHere = new Map();
  // A later update made under them: they stand. Made without them, the stage went on without them (a token taken over
  // as one was sent, docs/design §4.11): so does this peer, as every other peer logs the stage.
  const followMine = (got: SharedUpdate) => {
    if (got.mine === 'skipped')
      for (const [position, { agent, before }] of sentHere) {
        undoUpdate(agent, before);
        updated.delete(blocks[position].slot);
        records[position] = skipped(blocks[position]);
      }
    if (got.mine) sentHere.clear();
  };
  for (const block of blocks) {
    const agent = run.team.agents[block.slot];
    const record = agent
      ? await updateHere(run, block, agent, updated, advantages, sentHere)
      : await updateElsewhere(run, block, updated, advantages, followMine);
    if (record && !record.skipped) updated.add(block.slot);
    records.push(record ?? skipped(block));
  }
  await Promise.all(checks);
  return records;
}

/**
 * Why a replica whose agent holds the policy of digest `start` does not check `got` (docs/design §4.16): its maker
 * started from other tensors (they name none, or another digest: a newcomer, another model, a state the replica did not
 * take), or the slot is in Stage-0, whose log-probs come from the KL ball, not from the tensors alone.
 */
function notInStep(agent: Agent, start: Uint8Array, got: ArrivedUpdate): string | undefined {
  if (agent.stage0) return 'the slot enters through Stage-0: its log-probs are not its tensors alone';
  if (!got.start || Buffer.compare(got.start, start) !== 0)
    return 'its maker started the stage from other tensors than this replica holds';
  return undefined;
}

/** The trajectories the agent of `slot` spoke in: those it learns from first, then those held out (docs/design §1.11). */
function blockOf(rollout: StageRollout, position: number, slot: number): Block {
  const spoke = rowsOf(rollout, slot);
  return { position, slot, rows: [...spoke.filter((t) => !t.heldOut), ...spoke.filter((t) => t.heldOut)] };
}

/**
 * A replica's check of its slot's update of `block`, once it arrives; its word goes to the team (§4.16). An update
 * that cannot be checked (its weights withheld) does not hold up. Never throws: the stage goes on.
 */
async function checkAsReplica(run: StageRun, { position, slot, rows }: Block, agent: Agent): Promise<void> {
  const link = linkOf(run, 'check');
  try {
    const start = paramsDigest(agent.trainer.paramSource()); // before the update can arrive: the state it holds
    const got = await link.arrivedUpdate?.(run.stage, position);
    if (!got) return;
    // Not in the state the update starts from: it says so, and no one waits for its word.
    const abstains = notInStep(agent, start, got);
    if (abstains) return await link.attest?.(run.stage, position, abstains, true);
    if (!((await link.checksUpdate?.(run.stage, position)) ?? true)) return;
    const why = await timed(run, 'update', () =>
      replicaCheck(agent, rows, slot, got).catch((err: Error) => `it could not be checked: ${err.message}`),
    );
    await link.attest?.(run.stage, position, why);
  } catch {
    // the stage ended without the update (it failed, or this peer stopped): nothing to say
  }
}

/**
 * A remote agent's update: its log-probs before and after, its record recomputed from them; undefined when its peer
 * fell silent, a skipped record saying why when the update does not hold up (docs/design §4.15).
 */
async function updateElsewhere(
  run: StageRun,
  { position, slot, rows }: Block,
  updated: ReadonlySet<number>,
  advantages: StageAdvantages,
  followMine: (got: SharedUpdate) => void,
): Promise<AgentStageRecord | undefined> {
  const link = linkOf(run, 'update');
  const got = await timed(run, 'network', () => link.receiveUpdate(run.stage, position, slot));
  if (!got) return undefined;
  followMine(got);
  const name = nameOf(run.cfg, slot);
  let checked: { record: AgentStageRecord; logpNew: Float32Array[] } | { refused: string };
  try {
    const counts = rows.map((t) => ownPositions(t, slot).length);
    const logpCur = cut(got.logpCur, counts);
    const logpNew = cut(got.logpNew, counts);
    setOwnTokens(rows, slot, logpCur, 'logpCur');
    const inputs = { slot, name, rows, logpCur, logpNew, ...learning(run, rows, slot, updated, advantages) };
    const record = updateRecord(run.cfg, inputs, got.record);
    const refused = refusalOf(got.record, record, inputs);
    // Every peer logs its maker's gap, which stands within rounding of its own (update-record.ts refusalOf).
    checked = refused ? { refused } : { record: { ...record, gap: got.record.gap }, logpNew };
  } catch (err) {
    checked = { refused: (err as Error).message }; // log-probs no record can be computed from
  }
  if ('refused' in checked) {
    link.refuseUpdate(run.stage, position, checked.refused);
    return skippedRecord(slot, name, meanReward(rows), checked.refused);
  }
  // Its slot's replicas re-scored it from the weights it names and found otherwise (§4.16).
  const replicasSay = await timed(run, 'network', async () => link.replicasVerdict?.(run.stage, position));
  if (replicasSay) {
    link.refuseUpdate(run.stage, position, replicasSay);
    return skippedRecord(slot, name, meanReward(rows), replicasSay);
  }
  // Refused by a later agent's peer though it holds up here: the stage went on without it all the same.
  if (got.refusedLater) {
    link.refusalOverruled(run.stage, position);
    return undefined;
  }
  const { record, logpNew } = checked;
  setOwnTokens(rows, slot, logpNew, 'logpNew');
  return record;
}

/** What an update of `slot` learns from, alike on every peer: rho under pi^{i-1}, and its advantages where known. */
function learning(
  run: StageRun,
  rows: readonly Trajectory[],
  slot: number,
  updated: ReadonlySet<number>,
  advantages: StageAdvantages,
): Pick<UpdateInputs, 'rho' | 'advantages'> {
  const rho = rows.filter((t) => !t.heldOut).map((t) => ownRatios(t, slot, updated, run.cfg.sat.maxIsRatioClip));
  const own = advantages[slot];
  return { rho, ...(own ? { advantages: own } : {}) };
}

/**
 * The update of an agent here, under pi^{i-1} (`updated`: the slots of sigma(1..i-1) that made theirs), shared
 * with the peers after it; undefined when the stage went on without it (its token was taken over).
 */
async function updateHere(
  run: StageRun,
  { position, slot, rows }: Block,
  agent: Agent,
  updated: ReadonlySet<number>,
  advantages: StageAdvantages,
  sentHere: SentHere,
): Promise<AgentStageRecord | undefined> {
  const { cfg, link, stage } = run;
  if (link && !(await timed(run, 'network', () => link.awaitTurn(stage, position)))) return undefined;
  const before = link && undoPoint(agent);
  // The held-out rows it is only scored on once its update is made.
  const learned = rows.filter((t) => !t.heldOut);
  const heldOut = rows.filter((t) => t.heldOut);
  const { rho } = learning(run, rows, slot, updated, advantages);
  const batch = updateBatch(cfg, learned, slot, rho.map(truncate), advantagesOf(advantages, slot));
  const startDigest = link && paramsDigest(agent.trainer.paramSource());
  // A newcomer still in Stage-0 relaxes its KL ball under the same test instead of taking gradient steps
  // (docs/design §1.12).
  const { logpNew, ...claim } = await timed(run, 'update', () =>
    agent.stage0
      ? stage0Update(agent, batch, trustRegion(cfg))
      : trustRegionUpdate(agent, batch, trustRegion(cfg), before?.trainer),
  );
  const heldOutNew =
    claim.accepted && heldOut.length
      ? await timed(run, 'update', () =>
          agent.logprobsAt(
            heldOut.map((t) => ownIds(t, slot)),
            heldOut.map((t) => ownPositions(t, slot)),
          ),
        )
      : heldOut.map((t) => ownTokens(t, slot, 'logpCur'));
  const logpCur = rows.map((t) => ownTokens(t, slot, 'logpCur'));
  const inputs = {
    slot,
    name: agent.name,
    rows,
    logpCur,
    logpNew: [...logpNew, ...heldOutNew],
    rho,
    advantages: advantagesOf(advantages, slot),
  };
  const record = updateRecord(cfg, inputs, claim);
  const sent =
    !link ||
    (await timed(run, 'network', () =>
      link.sendUpdate(
        stage,
        position,
        { logpCur: concat(logpCur), logpNew: concat(inputs.logpNew), record },
        { start: startDigest!, params: agent.trainer.paramSource() },
      ),
    ));
  // Its token taken over while it made the update, the team went on without it: so does the agent (§4.10).
  if (!sent) return void undoUpdate(agent, before!);
  if (before) sentHere.set(position, { agent, before });
  setOwnTokens(rows, slot, inputs.logpNew, 'logpNew');
  return record;
}

/** The updates a peer sent in a stage, by position, with their agent and what undoes each. */
type SentHere = Map<number, { agent: Agent; before: UndoPoint }>;

/** What an update here changes of its agent, as it was before (the trainer's state left to the Stage-0 ball). */
interface UndoPoint {
  trainer?: TrainerSnapshot;
  beta: number;
  delta?: number;
}

const undoPoint = (agent: Agent): UndoPoint => ({
  ...(agent.stage0 ? { delta: agent.stage0.delta } : { trainer: agent.trainer.snapshot() }),
  beta: agent.beta,
});

/**
 * Puts `agent` back as it was at `before`: an update the team went on without (docs/design §4.10). A Stage-0 newcomer's
 * ball goes back, but not an incumbent it let go.
 */
function undoUpdate(agent: Agent, before: UndoPoint): void {
  if (before.trainer) agent.trainer.restore(before.trainer);
  agent.beta = before.beta;
  if (agent.stage0 && before.delta !== undefined) agent.stage0.delta = before.delta;
}

/** The KL-bounded update's settings: delta_i = target_kl on the KL quantile, with its line search. */
function trustRegion(cfg: ConfigValues): UpdateConfig {
  const { sat, algorithm, actorRolloutRef } = cfg;
  return {
    epsilon: sat.epsilon,
    targetKl: algorithm.klCtrl.targetKl,
    quantile: algorithm.klCtrl.quantile,
    maxBacktracks: sat.maxBacktracks,
    maxGrowths: sat.maxStepGrowths,
    steps: actorRolloutRef.actor.ppoEpochs,
    miniBatch: actorRolloutRef.actor.ppoMiniBatchSize,
  };
}

/** What the agent learns from: the trajectories it spoke in, seen from its own tokens, weighted by c = min(1, rho). */
function updateBatch(
  cfg: ConfigValues,
  rows: readonly Trajectory[],
  slot: number,
  isWeights: Float64Array[],
  advantages: AgentAdvantages,
): UpdateBatch {
  const critic = advantages.returns && {
    returns: advantages.returns,
    valuesOld: rows.map((t) => ownTokens(t, slot, 'values')),
    vfCoef: cfg.training.vfCoef,
    vfClip: cfg.training.clipVf ? VALUE_CLIP : Infinity,
  };
  return {
    rows: rows.map((t) => ownIds(t, slot)),
    positions: rows.map((t) => ownPositions(t, slot)),
    logpOld: rows.map((t) => ownTokens(t, slot, 'logpCur')),
    isWeights,
    advantages: advantages.sequence,
    ...(critic ? { critic } : {}),
  };
}

/**
 * rho_t on `slot`'s tokens of a trajectory: its turns in decoding order, updated agents' tokens reweighted (only
 * theirs are read: a remote agent's not updated yet are not known here).
 */
function ownRatios(t: Trajectory, slot: number, updated: ReadonlySet<number>, clip: number): Float64Array {
  const { turns } = t.transcript;
  const agent = turns.flatMap((turn) => turn.ids.map(() => turn.slot));
  const read = (k: number, x: Float32Array | undefined) =>
    updated.has(turns[k].slot) ? [...x!] : turns[k].ids.map(() => 0);
  const logpCur = turns.flatMap((_, k) => read(k, t.logpCur[k]));
  const logpNew = turns.flatMap((_, k) => read(k, t.logpNew[k] ?? t.logpCur[k]));
  const rho = isRatios({ agent, logpCur, logpNew }, updated, clip);
  return rho.filter((_, k) => agent[k] === slot);
}

const nameOf = (cfg: ConfigValues, slot: number): string => cfg.sat.agents[slot]?.name ?? `slot ${slot}`;

/** `flat` cut into consecutive pieces of `counts` values. */
function cut(flat: Float32Array, counts: readonly number[]): Float32Array[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (flat.length !== total)
    throw new Error(`an update carries ${flat.length} log-probs where the agent spoke ${total} tokens`);
  let at = 0;
  return counts.map((c) => flat.slice(at, (at += c)));
}
