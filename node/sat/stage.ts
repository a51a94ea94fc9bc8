// One SAT stage (docs/design §1.2, Algorithm 1), in the chain or ensemble workflow: rollout under pi_cur,
// teacher-forced log-probs, advantages, the block order, each agent's KL-bounded update in that order, and
// the stage certificate. Every choice is seeded by (run seed, stage), so each peer of a network team makes
// it alike. The same code runs a team whose agents all live in this process and one peer's share of a
// network team: a slot whose agent runs elsewhere takes its turns and makes its update through the StageLink.
import type { Agent } from '../agent/agent.ts';
import type { UpdateRecord } from '../agent/learner/update.ts';
import type { ParamSource } from '../agent/model/weights.ts';
import type { TurnGenerator } from '../agent/policy.ts';
import type { ConfigValues } from '../config/load.ts';
import type { ChainFormat, ChainTranscript, RemoteTurn } from '../tasks/chain.ts';
import type { Problem } from '../tasks/dataset.ts';
import { type StageCertificate, stageCertificate } from './certificate.ts';
import { type RewardChange, rewardChange } from './reward-change.ts';
import { type StageRollout, meanReward, rollOut, scoreOwnTurns } from './stage-rollout.ts';
import { blockOrder, stageAdvantages } from './stage-advantages.ts';
import { type StageRun, timed } from './stage-run.ts';
import { updateInOrder } from './stage-update.ts';

/** The agents a stage runs: all of them (a local team), or this peer's slot of a network team. */
export interface StageTeam {
  /** Seeds the stage's prompts and order: the run's seed (team.ts runSeed), alike on every peer. */
  runSeed: string;
  /** By slot; in the chain, slot i takes turn i. Undefined where the slot's agent runs on another peer. */
  agents: readonly (Agent | undefined)[];
  format: ChainFormat;
  train: readonly Problem[];
  /**
   * A replica's agent (docs/design §4.16): a copy of `slot`'s agent, which takes no part in the stage but checks that
   * slot's updates.
   */
  replica?: { slot: number; agent: Agent };
}

export interface Team extends StageTeam {
  agents: Agent[];
}

/**
 * What an agent's update makes known to the agents after it: its log-probs on its own tokens before and after, and
 * its record.
 */
export interface SharedUpdate {
  /**
   * Its tokens' log-probs under pi_cur and under its new policy: the transcripts it spoke in, in rollout order, its
   * turns' tokens in order.
   */
  logpCur: Float32Array;
  logpNew: Float32Array;
  record: AgentStageRecord;
  /** A later update of the stage names it refused: the stage went on without it (docs/design §4.15). */
  refusedLater?: true;
  /**
   * What it says of this peer's own update earlier in the stage: made under it, or without it (the stage went on
   * without that one, docs/design §4.11); none when this peer sent none before it, or it names that one refused.
   */
  mine?: 'kept' | 'skipped';
}

/** An update as it arrives, with the new policy tensors it names, fetched when asked for (docs/design §4.16). */
export interface ArrivedUpdate extends SharedUpdate {
  /** The digest of the policy tensors its maker started from (paramsDigest); none when it names no weights. */
  start?: Uint8Array;
  weights(): Promise<ReadonlyMap<string, { data: Float32Array }>>;
}

/** An update's policy tensors for its slot's replicas: the digest of those it started from, and the new ones. */
export interface UpdateTensors {
  start: Uint8Array<ArrayBuffer>;
  params: ParamSource;
}

/** A slot's agent here, as a shared turn needs it (docs/design §4.17): to make rows, and to re-score rows others made. */
export interface TurnMaker {
  generator: TurnGenerator;
  /** Per transcript, the largest |sampling log-prob - teacher-forced log-prob| over the slot's tokens. */
  rescore(transcripts: readonly ChainTranscript[]): Promise<number[]>;
}

/** How a stage reaches the slots whose agents run on other peers (a network team; see node/peer/peer-link.ts). */
export interface StageLink {
  /** The turns of a remote `slot` in rollout `rollout` (e.g. 'train/0') of `stage`, from its peer. */
  remoteTurn(stage: number, rollout: string, slot: number): RemoteTurn;
  /**
   * `slot`'s turn in `rollout`, shared among the peers that hold its agent, this one with `maker` among them
   * (docs/design §4.17); undefined when it is not shared.
   */
  sharedTurn?(stage: number, rollout: string, slot: number, maker?: TurnMaker): RemoteTurn | undefined;
  /** Shares the turns taken here in `rollout` with the peers of later turns (and every learner). */
  shareTurn(stage: number, rollout: string, transcripts: readonly ChainTranscript[]): Promise<void>;
  /** The stage's order is known: the token starts moving. */
  setOrder(stage: number, order: number[]): void;
  /**
   * The update of order position `position` by a remote `slot`, once made; undefined when the slot skipped the stage
   * (its peer went silent).
   */
  receiveUpdate(stage: number, position: number, slot: number): Promise<SharedUpdate | undefined>;
  /**
   * Waits until this peer holds the token for `position`: true; false when the stage went on without this peer's
   * update (it was taken over).
   */
  awaitTurn(stage: number, position: number): Promise<boolean>;
  /**
   * The update received for `position` does not hold up (`why`, docs/design §4.15): the stage goes on as if it was
   * skipped, and its maker is excluded from the team.
   */
  refuseUpdate(stage: number, position: number, why: string): void;
  /**
   * The update received for `position`, which a later update names refused, holds up here: the stage went on without
   * it all the same, and the later update's maker is excluded (docs/design §4.15).
   */
  refusalOverruled(stage: number, position: number): void;
  /**
   * Publishes this peer's update of `position`, with its new policy tensors (`weights`) for its slot's replicas to check
   * it by, and passes the token on: true. False, and nothing sent, when the token was taken over meanwhile: the stage
   * went on without the update.
   */
  sendUpdate(stage: number, position: number, update: SharedUpdate, tensors?: UpdateTensors): Promise<boolean>;
  /**
   * The update of `position` as soon as it arrives, for a replica of its slot to check (docs/design §4.16); undefined
   * when the position goes on without one.
   */
  arrivedUpdate?(stage: number, position: number): Promise<ArrivedUpdate | undefined>;
  /**
   * Whether this replica is to re-score the update of `position`: resolves once its turn among the slot's verifiers
   * comes (true), or once enough others checked it or no peer waits for its word any more (false).
   */
  checksUpdate?(stage: number, position: number): Promise<boolean>;
  /**
   * This peer's word, as a replica of its slot, on the update of `position`: `why` it does not hold up, or none; with
   * `abstains`, why this replica did not check it.
   */
  attest?(stage: number, position: number, why: string | undefined, abstains?: boolean): Promise<void>;
  /**
   * Why the update of `position`, whose record holds up here, is refused on its slot's replicas' word (docs/design
   * §4.16); undefined when it is not.
   */
  replicasVerdict?(stage: number, position: number): Promise<string | undefined>;
}

export interface AgentStageRecord extends Omit<UpdateRecord, 'logpNew'> {
  slot: number;
  name: string;
  /** Mean reward of the rollouts the agent spoke in (the team's in the chain, its own in the ensemble). */
  reward: number;
  /** delta_i, N_i and zeta_i of the certificate. */
  delta: number;
  n: number;
  zeta: number;
  /** Largest |sampling log-prob - teacher-forced log-prob| over the agent's tokens. */
  gap: number;
  /** Set when the agent's peer fell silent while it held the token: the stage went on without its update. */
  skipped?: true;
  /** Why the agent's update was refused (its record or its log-probs did not hold up, docs/design §4.15): skipped too. */
  refused?: string;
}

export interface StageRecord {
  stage: number;
  order: number[];
  /** Mean team reward of the stage's rollouts. */
  reward: number;
  /** Largest |sampling log-prob - teacher-forced log-prob| over all generated tokens. */
  maxLogprobGap: number;
  agents: AgentStageRecord[];
  certificate: StageCertificate;
  /** The team's reward change over the stage, measured on its held-out rollouts, with its confidence term (§1.11). */
  rewardChange: RewardChange;
  /**
   * Where this process's stage time went, in seconds: the rollout and its scoring (other peers'
   * turns included), its agents' updates, and waiting on the link for the token and other peers' updates.
   */
  time: StageTime;
}

export interface StageTime {
  rollout: number;
  update: number;
  network: number;
  /** The held-out evaluation after the stage (its caller's). */
  eval?: number;
}

export async function runStage(
  team: StageTeam,
  cfg: ConfigValues,
  stage: number,
  link?: StageLink,
): Promise<StageRecord> {
  const seed = `${team.runSeed}:${stage}`;
  const run: StageRun = { team, cfg, stage, seed, link, time: { rollout: 0, update: 0, network: 0 } };
  const rollout = await timed(run, 'rollout', () => rollOut(run)); // docs/design §1.3: B under pi_cur
  await timed(run, 'rollout', () => scoreOwnTurns(rollout, team.agents)); // docs/design §1.4: logp_cur
  const learned = rollout.filter((t) => !t.heldOut); // docs/design §1.11: the rest measure the stage
  const advantages = stageAdvantages(learned, team.agents, cfg); // docs/design §1.5: GRPO or GAE
  const order = blockOrder(run, learned, advantages); // docs/design §1.6: sigma
  link?.setOrder(stage, order);
  const records = await updateInOrder(run, rollout, advantages, order); // docs/design §1.7: under pi^{i-1}
  return stageRecord(run, order, rollout, records); // docs/design §1.11: the certificate and the reward change
}

/**
 * The stage certificate from the records of the agents that made an update, the reward change their updates made
 * on the stage's rollouts, and the stage's totals.
 */
function stageRecord(run: StageRun, order: number[], rollout: StageRollout, records: AgentStageRecord[]): StageRecord {
  const { algorithm, certificate } = run.cfg;
  const cert = stageCertificate({
    gamma: algorithm.gamma,
    aMax: certificate.advantageMax,
    deltaConf: certificate.deltaConf,
    agents: records.filter((a) => !a.skipped),
  });
  const maxLogprobGap = Math.max(0, ...records.map((a) => a.gap));
  const ms = (x: number) => Math.round(x * 1000) / 1000;
  return {
    stage: run.stage,
    order,
    reward: meanReward(rollout),
    maxLogprobGap,
    agents: records,
    certificate: cert,
    rewardChange: rewardChange(
      rollout.filter((t) => t.heldOut),
      certificate.deltaConf,
      Math.min(run.cfg.data.trainBatchSize, run.team.train.length),
    ),
    time: { rollout: ms(run.time.rollout), update: ms(run.time.update), network: ms(run.time.network) },
  };
}
