// A team in this process, built from a SAT config: its agents (one per `sat.agents` slot, sharing one
// tokenizer), the datasets, and the stage checkpoints under `logging.save_dir` — written atomically,
// so a kill at any moment leaves the last complete stage loadable. A slot upgraded through Stage-0
// keeps its newcomer's folder and its incumbent in the checkpoint, so the run goes on with it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Agent } from '../agent/agent.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { type ChainFormat, chainFormat } from '../tasks/chain.ts';
import { loadCheckpoint } from '../agent/model/checkpoint.ts';
import { type Problem, loadDataset } from '../tasks/dataset.ts';
import { InputError } from '../agent/errors.ts';
import { freezeParams, loadParams, saveParams } from '../agent/model/frozen-params.ts';
import { Generator } from '../agent/model/generate.ts';
import { Scorer } from '../agent/model/score.ts';
import type { Incumbent } from '../agent/learner/stage0/slot.ts';
import { loadTokenizer } from '../agent/model/tokenizer.ts';
import type { LoraConfig, ParamSource } from '../agent/model/weights.ts';
import type { SatConfig, Workflow } from '../config/load.ts';
import type { SessionOptions } from '../gpu/ort.ts';
import type { StageRecord, StageTeam, Team } from './stage.ts';

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
const threadsOnly = (threads?: number): SessionOptions => (threads ? { threads } : {});

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
  };
}

/** The team of the config; `models` puts other checkpoint folders in some slots (upgraded ones). */
export function buildTeam(cfg: SatConfig, threads?: number, models: readonly (string | undefined)[] = []): LocalTeam {
  if (cfg.sat.agents.length === 0) throw new InputError('sat.agents lists no agents: give at least one {name, path}');
  const { trainPath, testPath } = cfg.dataset;
  if (!trainPath || !testPath)
    throw new InputError('dataset.train_path and dataset.test_path must name JSONL files of {prompt, answer}');
  const dirs = cfg.sat.agents.map((a, slot) => models[slot] ?? a.path);
  const tokenizers = dirs.map((dir) => loadTokenizer(dir));
  const odd = tokenizers.findIndex((t) => t.hash !== tokenizers[0].hash);
  if (odd > 0)
    throw new InputError(
      `agent '${cfg.sat.agents[odd].name}' (${dirs[odd]}) has another tokenizer than '${cfg.sat.agents[0].name}': ` +
        `a team's agents must share one`,
    );
  const agents = dirs.map((dir, slot) => makeAgent(cfg, slot, dir, threadsOnly(threads)));
  const format = chainFormat(tokenizers[0]);
  const [train, test] = [loadDataset(trainPath), loadDataset(testPath)];
  checkLengths(cfg, agents, format, [...train, ...test]);
  return { runSeed: runSeed(cfg), workflow: cfg.team.workflow, agents, format, train, test };
}

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
  const transcript = promptTokens + turns * (cfg.data.maxResponseLength + format.separator.length);
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

interface SavedSlot {
  /** The checkpoint folder the slot's agent runs on, when an upgrade put another one than the config's there. */
  model?: string;
  /**
   * While the slot is in Stage-0: its incumbent's folder (its trained tensors lie beside, LoRA factors when `lora`),
   * the ball's radius.
   */
  stage0?: { incumbent: string; lora: LoraConfig | null; delta: number };
}

/** A peer of a network team saves its own slot only: the others' betas are null. */
interface Saved {
  stage: number;
  team: string;
  betas: (number | null)[];
  slots?: SavedSlot[];
}

const checkpoints = (cfg: SatConfig) => path.join(cfg.logging.saveDir, 'checkpoints');
const incumbentFile = (folder: string, name: string) => path.join(folder, `${name}.incumbent.safetensors`);
const stageLog = (cfg: SatConfig) => path.join(cfg.logging.saveDir, 'stage_log.jsonl');

/**
 * Writes every agent's (here) trainable and optimizer state, beta and Stage-0 incumbent for `stage`,
 * and the stage's record when given (the stage loop saves before its evaluation, and logs the row after),
 * then points `latest` at it.
 */
export function saveStage(cfg: SatConfig, team: StageTeam, stage: number, record?: StageRecord): void {
  const root = checkpoints(cfg);
  const name = `stage-${String(stage).padStart(4, '0')}`;
  const tmp = path.join(root, `${name}.tmp`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const slots = team.agents.map((a, i): SavedSlot => {
    if (!a) return {};
    a.trainer.save(path.join(tmp, `${a.name}.safetensors`));
    const model = a.ckpt.dir === path.resolve(cfg.sat.agents[i].path) ? {} : { model: a.ckpt.dir };
    const s0 = a.stage0;
    if (!s0) return model;
    saveParams(incumbentFile(tmp, a.name), s0.incumbent.params);
    return {
      ...model,
      stage0: { incumbent: s0.incumbent.dir, lora: s0.incumbent.params.lora ?? null, delta: s0.delta },
    };
  });
  const saved: Saved = { stage, team: team.runSeed, betas: team.agents.map((a) => a?.beta ?? null), slots };
  writeFileAtomic(path.join(tmp, 'state.json'), `${JSON.stringify(saved)}\n`);
  if (record) writeFileAtomic(path.join(tmp, 'record.json'), `${JSON.stringify(record)}\n`);
  fs.rmSync(path.join(root, name), { recursive: true, force: true });
  fs.renameSync(tmp, path.join(root, name));
  writeFileAtomic(path.join(root, 'latest.json'), `${JSON.stringify({ stage, dir: name })}\n`);
  pruneStages(root, stage, cfg.logging.keepCheckpoints);
}

/** Once `latest` points at `saved`, removes the stages before it beyond the `keep` latest (none when keep is 0). */
function pruneStages(root: string, saved: number, keep: number): void {
  if (keep === 0) return;
  const older = fs
    .readdirSync(root)
    .flatMap((d) => {
      const m = /^stage-(\d+)$/.exec(d);
      return m && Number(m[1]) < saved ? [{ d, stage: Number(m[1]) }] : [];
    })
    .sort((a, b) => a.stage - b.stage);
  for (const { d } of older.slice(0, Math.max(0, older.length - (keep - 1))))
    fs.rmSync(path.join(root, d), { recursive: true, force: true });
}

/** The folder of the run's latest saved stage, if any. */
export function latestStageFolder(cfg: SatConfig): string | undefined {
  const latest = path.join(checkpoints(cfg), 'latest.json');
  if (!fs.existsSync(latest)) return undefined;
  return path.join(checkpoints(cfg), (readJson(latest) as { dir: string }).dir);
}

/** The record saved with a stage (saveStage), if it was. */
export function savedRecord(folder: string): StageRecord | undefined {
  const file = path.join(folder, 'record.json');
  return fs.existsSync(file) ? (readJson(file) as StageRecord) : undefined;
}

/** Whether <save_dir>/stage_log.jsonl has a row of `stage`. */
export function loggedStage(cfg: SatConfig, stage: number): boolean {
  const log = stageLog(cfg);
  if (!fs.existsSync(log)) return false;
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .some((l) => {
      try {
        return (JSON.parse(l) as { stage: number }).stage === stage;
      } catch {
        return false;
      }
    });
}

/** Appends one row to <save_dir>/stage_log.jsonl. */
export function appendStageLog(cfg: SatConfig, row: { stage: number; [key: string]: unknown }): void {
  fs.mkdirSync(cfg.logging.saveDir, { recursive: true });
  fs.appendFileSync(stageLog(cfg), `${JSON.stringify(row)}\n`);
}

/**
 * Drops the log's rows of stages >= `stage` (logged, never saved: they are redone), and a last row cut short by a
 * kill.
 */
export function trimStageLog(cfg: SatConfig, stage: number): void {
  const log = stageLog(cfg);
  if (!fs.existsSync(log)) return;
  const lines = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const stageOf = (l: string) => {
    try {
      return (JSON.parse(l) as { stage: number }).stage;
    } catch {
      return Infinity;
    }
  };
  const kept = lines.filter((l) => stageOf(l) < stage);
  if (kept.length !== lines.length) writeFileAtomic(log, kept.map((l) => `${l}\n`).join(''));
}

/**
 * The config's team as saved in a stage folder (each slot on its saved model, with its state, beta
 * and Stage-0 incumbent), or as configured when `folder` is undefined; with the stage number (0 then).
 */
export async function openTeam(
  cfg: SatConfig,
  folder: string | undefined,
  threads?: number,
): Promise<{ team: LocalTeam; stage: number }> {
  if (!folder) return { team: buildTeam(cfg, threads), stage: 0 };
  const saved = readSaved(cfg, folder);
  const team = buildTeam(cfg, threads, saved.slots?.map((s) => s.model) ?? []);
  try {
    team.agents.forEach((a, slot) => restoreAgent(cfg, folder, saved, slot, a, threadsOnly(threads)));
  } catch (err) {
    await releaseTeam(team);
    throw err;
  }
  return { team, stage: saved.stage };
}

/**
 * The saved stage in `folder`: its number, and the checkpoint folder `slot` runs on there (an upgrade's, else the
 * config's).
 */
export function savedStage(cfg: SatConfig, folder: string, slot: number): { stage: number; model: string } {
  const saved = readSaved(cfg, folder);
  return { stage: saved.stage, model: saved.slots?.[slot]?.model ?? cfg.sat.agents[slot].path };
}

/**
 * Puts `agent` (of `slot`) in the state saved in `folder`: its trained tensors, optimizer, beta and Stage-0
 * incumbent.
 */
export function restoreSlot(
  cfg: SatConfig,
  folder: string,
  slot: number,
  agent: Agent,
  session: SessionOptions = {},
): void {
  restoreAgent(cfg, folder, readSaved(cfg, folder), slot, agent, session);
}

function restoreAgent(
  cfg: SatConfig,
  folder: string,
  saved: Saved,
  slot: number,
  a: Agent,
  session: SessionOptions = {},
): void {
  const beta = saved.betas[slot];
  if (beta === null || beta === undefined)
    throw new InputError(`${folder} holds no state of slot ${slot} ('${a.name}'): it was saved by another slot's peer`);
  a.trainer.load(path.join(folder, `${a.name}.safetensors`));
  a.beta = beta;
  const s0 = saved.slots?.[slot]?.stage0;
  if (s0)
    a.stage0 = {
      incumbent: makeIncumbent(
        cfg,
        s0.incumbent,
        loadParams(incumbentFile(folder, a.name), s0.lora ?? undefined),
        session,
      ),
      delta: s0.delta,
    };
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

function readSaved(cfg: SatConfig, folder: string): Saved {
  const stateFile = path.join(folder, 'state.json');
  if (!fs.existsSync(stateFile))
    throw new InputError(
      `${folder} is not a saved stage: it has no state.json (stage folders are <save_dir>/checkpoints/stage-NNNN)`,
    );
  const saved = readJson(stateFile) as Saved;
  const id = runSeed(cfg);
  if (saved.team !== id)
    throw new InputError(
      `${folder} was saved by team ${saved.team}, not by this config's team ${id} (its agents, seed or workflow differ)`,
    );
  return saved;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(
      `${file} cannot be read as JSON (${(err as Error).message}); the checkpoint is damaged: point --ckpt at an earlier stage folder`,
    );
  }
}
