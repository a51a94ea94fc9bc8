// A team in this process, built from a SAT config: its agents (one per `sat.agents` slot, sharing one
// tokenizer) and the datasets; and plug-and-play, a stronger model taking a slot over through Stage-0. Its
// checkpoints are in checkpoints.ts, its stage log in stage-log.ts.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Agent } from '../agent/agent.ts';
import type { ChainFormat } from '../tasks/chain.ts';
import { teamFormat } from '../tasks/chat-format.ts';
import { loadCheckpoint } from '../agent/model/checkpoint.ts';
import { type Problem, loadDataset } from '../tasks/dataset.ts';
import { InputError } from '../agent/errors.ts';
import { freezeParams } from '../agent/model/frozen-params.ts';
import { Generator } from '../agent/model/generate.ts';
import { Scorer } from '../agent/model/score.ts';
import type { Incumbent } from '../agent/learner/stage0/slot.ts';
import { Stage0Projector } from '../agent/learner/stage0/projector.ts';
import { type Tokenizer, loadTokenizer } from '../agent/model/tokenizer.ts';
import type { ParamSource } from '../agent/model/weights.ts';
import { ConfigError } from '../config/errors.ts';
import type { SatConfig, Workflow } from '../config/load.ts';
import type { SessionOptions } from '../gpu/ort.ts';
import type { Team } from './stage.ts';

export interface LocalTeam extends Team {
  workflow: Workflow;
  test: readonly Problem[];
}

/**
 * The run's seed: a hash of what defines the training run (its agents' names, seed and workflow), alike on every peer
 * of a team. It seeds each stage's prompts and order and marks whose checkpoints a stage folder holds. It is not the
 * network team's id (the manifest's CID), which also covers the data and the admission rules.
 */
export function runSeed(cfg: SatConfig): string {
  const what = { agents: cfg.sat.agents.map((a) => a.name), seed: cfg.seed, workflow: cfg.team.workflow };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

/** Session options from a thread count (a local team's). */
export const threadsOnly = (threads?: number): SessionOptions => (threads ? { threads } : {});

/**
 * The agent of `slot` on the checkpoint in `dir`, as the config trains it, its sessions as `session` says (a peer's
 * run on a worker thread).
 */
export function makeAgent(
  cfg: SatConfig,
  slot: number,
  dir: string,
  session: SessionOptions = {},
  microBatch = 0,
): Agent {
  const lora = cfg.training.lora;
  return new Agent({
    name: cfg.sat.agents[slot].name,
    dir,
    trainable: lora ? { kind: 'lora', lora } : { kind: 'full' },
    optimizer: {
      lr: cfg.training.learningRate,
      weightDecay: cfg.training.weightDecay,
      warmupSteps: cfg.training.warmupSteps,
    },
    beta: cfg.algorithm.klCtrl.klCoef,
    seed: cfg.seed + slot,
    critic: cfg.sat.advMode === 'gae',
    temperature: policyTemperature(cfg),
    session,
    microBatch,
  });
}

const isFolder = (dir: string): boolean => fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;

const policyTemperature = (cfg: SatConfig) => cfg.generation.temperature || 1;

/** A frozen incumbent's policy for Stage-0: its checkpoint with its trained tensors, at the team's temperature. */
export function makeIncumbent(
  cfg: SatConfig,
  dir: string,
  params: ParamSource,
  session: SessionOptions = {},
): Incumbent {
  const ckpt = loadCheckpoint(dir);
  return {
    dir,
    params,
    scorer: new Scorer(ckpt, session, params, policyTemperature(cfg)),
    generator: new Generator(ckpt, session, params),
    projector: new Stage0Projector(session),
  };
}

/** The team of the config; `models` puts other checkpoint folders in some slots (upgraded ones). */
export async function buildTeam(
  cfg: SatConfig,
  threads?: number,
  models: readonly (string | undefined)[] = [],
): Promise<LocalTeam> {
  if (cfg.sat.agents.length === 0) throw new InputError('sat.agents lists no agents: give at least one {name, path}');
  const { trainPath, testPath } = cfg.dataset;
  if (!trainPath || !testPath)
    throw new InputError('dataset.train_path and dataset.test_path must name the data sets (JSONL or Parquet files)');
  const dirs = cfg.sat.agents.map((a, slot) => models[slot] ?? a.path);
  const missing = dirs.findIndex((dir, slot) => models[slot] === undefined && !isFolder(dir));
  if (missing >= 0) {
    const key = `sat.agents[${missing}].path`;
    throw new ConfigError(`no such folder: ${dirs[missing]} (${key})`, undefined, key);
  }
  const tokenizers = dirs.map((dir) => loadTokenizer(dir));
  const odd = tokenizers.findIndex((t) => t.hash !== tokenizers[0].hash);
  if (odd > 0)
    throw new InputError(
      `agent '${cfg.sat.agents[odd].name}' (${dirs[odd]}) has another tokenizer than '${cfg.sat.agents[0].name}': ` +
        `a team's agents must share one`,
    );
  const agents = dirs.map((dir, slot) => makeAgent(cfg, slot, dir, threadsOnly(threads)));
  const format = formatOf(tokenizers[0], cfg);
  const [train, test] = await Promise.all([trainPath, testPath].map((f) => loadDataset(f, cfg.dataset.type)));
  checkLengths(cfg, agents, format, [...train, ...test]);
  return { runSeed: runSeed(cfg), workflow: cfg.team.workflow, agents, format, train, test };
}

/** How the config's team lays out its transcripts for agents of tokenizer `tok` (chat-format.ts teamFormat). */
export const formatOf = (tok: Tokenizer, cfg: SatConfig): ChainFormat =>
  teamFormat(tok, {
    agents: cfg.sat.agents,
    workflow: cfg.team.workflow,
    turns: cfg.team.turns,
    enableThinking: cfg.generation.enableThinking,
  });

/** Every prompt fits data.max_prompt_length, and a whole transcript of the longest one fits each model's context. */
function checkLengths(
  cfg: SatConfig,
  agents: readonly Agent[],
  format: ChainFormat,
  problems: readonly Problem[],
): void {
  const lengths = problems.map((p) => format.promptIds(p.prompt).length);
  const at = lengths.indexOf(Math.max(...lengths));
  if (at < 0) return;
  const [longest, promptTokens] = [problems[at], lengths[at]];
  if (promptTokens > cfg.data.maxPromptLength) {
    throw new InputError(
      `prompt '${longest.id}' is ${promptTokens} tokens, over data.max_prompt_length ${cfg.data.maxPromptLength}: ` +
        `raise it or shorten the dataset's prompts`,
    );
  }
  const turns = cfg.team.workflow === 'chain' ? cfg.sat.agents.length : 1;
  const transcript = format.maxSequence(promptTokens, turns, cfg.data.maxResponseLength);
  for (const a of agents) {
    const context = a.ckpt.config.maxPositionEmbeddings;
    if (transcript > context)
      throw new InputError(
        `a transcript can reach ${transcript} tokens (the longest prompt + ${turns} turns of ` +
          `data.max_response_length ${cfg.data.maxResponseLength}), over the context of agent '${a.name}' ` +
          `(${context} positions): lower it`,
      );
  }
}

/**
 * Reference-config settings a local run does not read, when set away from the reference's defaults
 * (and from what is read instead): one line each, saying what is read instead.
 */
export function unusedSettings(cfg: SatConfig): string[] {
  const { actor, rollout } = cfg.actorRolloutRef;
  const notes: [boolean, string][] = [
    [
      actor.clipRatio !== 0.2 && actor.clipRatio !== cfg.sat.epsilon,
      `actor_rollout_ref.actor.clip_ratio ${actor.clipRatio} is not read: updates clip with sat.epsilon ${cfg.sat.epsilon}`,
    ],
    [
      rollout.n !== 4 && rollout.n !== cfg.sat.groupSize,
      `actor_rollout_ref.rollout.n ${rollout.n} is not read: each prompt gets sat.group_size ${cfg.sat.groupSize} samples`,
    ],
    [
      actor.klLossCoef !== 0.001 || !actor.useKlLoss,
      `actor_rollout_ref.actor.kl_loss_coef / use_kl_loss are not read: the KL term is always on, its coefficient ` +
        `algorithm.kl_ctrl.kl_coef ${cfg.algorithm.klCtrl.klCoef}`,
    ],
    [
      cfg.sat.epsilonIs !== 1e-5,
      `sat.epsilon_is ${cfg.sat.epsilonIs} is not read: importance weights are truncated at 1 and clipped by sat.max_is_ratio_clip`,
    ],
    [
      cfg.logging.checkpointEveryStage !== 1,
      `logging.checkpoint_every_stage ${cfg.logging.checkpointEveryStage} is not read: every stage is saved`,
    ],
    [
      cfg.logging.everyNSteps !== 10,
      `logging.every_n_steps ${cfg.logging.everyNSteps} is not read: the log has one row per stage`,
    ],
  ];
  return notes.filter(([on]) => on).map(([, text]) => text);
}

export async function releaseTeam(team: Team): Promise<void> {
  for (const a of team.agents) await a.release();
}

/**
 * Plug-and-play (docs/design §1): the checkpoint in `dir` takes over `slot` through Stage-0, projected onto
 * the ball of radius delta0 around the slot's agent as it is now, which stays frozen beside it.
 */
export async function upgradeSlot(
  cfg: SatConfig,
  team: LocalTeam,
  slot: number,
  dir: string,
  delta0: number,
  threads?: number,
): Promise<void> {
  const old = team.agents[slot];
  if (old.stage0) {
    throw new InputError(
      `slot '${old.name}' is still entering through Stage-0 (ball radius ${old.stage0.delta.toPrecision(3)}): ` +
        `train on until its incumbent is released, then upgrade it again`,
    );
  }
  const newcomer = makeAgent(cfg, slot, dir, threadsOnly(threads));
  try {
    if (newcomer.ckpt.config.vocabSize !== old.ckpt.config.vocabSize) {
      throw new InputError(
        `${dir} has ${newcomer.ckpt.config.vocabSize} token ids and slot '${old.name}' ` +
          `${old.ckpt.config.vocabSize}: Stage-0 needs one vocabulary`,
      );
    }
    checkLengths(cfg, [newcomer], team.format, [...team.train, ...team.test]);
  } catch (err) {
    await newcomer.release();
    throw err;
  }
  newcomer.stage0 = {
    incumbent: makeIncumbent(cfg, old.ckpt.dir, freezeParams(old.trainer.paramSource()), threadsOnly(threads)),
    delta: delta0,
  };
  team.agents[slot] = newcomer;
  await old.release();
}
