// A team in this process, built from a SAT config: its agents (one per `sat.agents` slot, sharing one
// tokenizer), the datasets, and the stage checkpoints under `logging.save_dir` — written atomically,
// so a kill at any moment leaves the last complete stage loadable.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Agent } from './agent/agent.ts';
import { writeFileAtomic } from './agent/atomic-file.ts';
import { type ChainFormat, chainFormat } from './agent/chain.ts';
import { type Problem, loadDataset } from './agent/dataset.ts';
import { InputError } from './agent/errors.ts';
import { loadTokenizer } from './agent/tokenizer.ts';
import type { SatConfig, Workflow } from './config.ts';
import type { Team } from './stage.ts';

export interface LocalTeam extends Team {
  workflow: Workflow;
  test: readonly Problem[];
}

/** Ids every peer derives alike: the team id is a hash of what defines the team. */
function teamId(cfg: SatConfig): string {
  const what = { agents: cfg.sat.agents.map((a) => a.name), seed: cfg.seed, workflow: cfg.team.workflow };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

export function buildTeam(cfg: SatConfig, threads?: number): LocalTeam {
  if (cfg.sat.agents.length === 0) throw new InputError('sat.agents lists no agents: give at least one {name, path}');
  const { trainPath, testPath } = cfg.dataset;
  if (!trainPath || !testPath) throw new InputError('dataset.train_path and dataset.test_path must name JSONL files of {prompt, answer}');
  const tokenizers = cfg.sat.agents.map((a) => loadTokenizer(a.path));
  const odd = tokenizers.findIndex((t) => t.hash !== tokenizers[0].hash);
  if (odd > 0) throw new InputError(`agent '${cfg.sat.agents[odd].name}' has another tokenizer than '${cfg.sat.agents[0].name}': a team's agents must share one`);
  const lora = cfg.training.lora;
  const agents = cfg.sat.agents.map((a, slot) => new Agent({
    name: a.name, dir: a.path, trainable: lora ? { kind: 'lora', lora } : { kind: 'full' },
    optimizer: { lr: cfg.training.learningRate, weightDecay: cfg.training.weightDecay, warmupSteps: cfg.training.warmupSteps },
    beta: cfg.algorithm.klCtrl.klCoef, seed: cfg.seed + slot, critic: cfg.sat.advMode === 'gae',
    temperature: cfg.generation.temperature || 1, ...(threads ? { session: { threads } } : {}),
  }));
  const format = chainFormat(tokenizers[0]);
  const [train, test] = [loadDataset(trainPath), loadDataset(testPath)];
  checkLengths(cfg, agents, format, [...train, ...test]);
  return { id: teamId(cfg), workflow: cfg.team.workflow, agents, format, train, test };
}

/** Every prompt fits data.max_prompt_length, and a whole transcript of the longest one fits each model's context. */
function checkLengths(cfg: SatConfig, agents: readonly Agent[], format: ChainFormat, problems: readonly Problem[]): void {
  const lengths = problems.map((p) => format.promptIds(p.prompt).length);
  const at = lengths.indexOf(Math.max(...lengths));
  if (at < 0) return;
  const [longest, promptTokens] = [problems[at], lengths[at]];
  if (promptTokens > cfg.data.maxPromptLength) {
    throw new InputError(`prompt '${longest.id}' is ${promptTokens} tokens, over data.max_prompt_length ${cfg.data.maxPromptLength}: raise it or shorten the dataset's prompts`);
  }
  const turns = cfg.team.workflow === 'chain' ? agents.length : 1;
  const transcript = promptTokens + turns * (cfg.data.maxResponseLength + format.separator.length);
  for (const a of agents) {
    const context = a.ckpt.config.maxPositionEmbeddings;
    if (transcript > context) throw new InputError(`a transcript can reach ${transcript} tokens (the longest prompt + ${turns} turns of data.max_response_length ${cfg.data.maxResponseLength}), over the context of agent '${a.name}' (${context} positions): lower it`);
  }
}

/**
 * Reference-config settings a local run does not read, when set away from the reference's defaults
 * (and from what is read instead): one line each, saying what is read instead.
 */
export function unusedSettings(cfg: SatConfig): string[] {
  const { actor, rollout } = cfg.actorRolloutRef;
  const notes: [boolean, string][] = [
    [actor.clipRatio !== 0.2 && actor.clipRatio !== cfg.sat.epsilon, `actor_rollout_ref.actor.clip_ratio ${actor.clipRatio} is not read: updates clip with sat.epsilon ${cfg.sat.epsilon}`],
    [rollout.n !== 4 && rollout.n !== cfg.sat.groupSize, `actor_rollout_ref.rollout.n ${rollout.n} is not read: each prompt gets sat.group_size ${cfg.sat.groupSize} samples`],
    [actor.klLossCoef !== 0.001 || !actor.useKlLoss, `actor_rollout_ref.actor.kl_loss_coef / use_kl_loss are not read: the KL term is always on, its coefficient algorithm.kl_ctrl.kl_coef ${cfg.algorithm.klCtrl.klCoef}`],
    [cfg.sat.epsilonIs !== 1e-5, `sat.epsilon_is ${cfg.sat.epsilonIs} is not read: importance weights are truncated at 1 and clipped by sat.max_is_ratio_clip`],
    [cfg.logging.checkpointEveryStage !== 1, `logging.checkpoint_every_stage ${cfg.logging.checkpointEveryStage} is not read: every stage is saved`],
    [cfg.logging.everyNSteps !== 10, `logging.every_n_steps ${cfg.logging.everyNSteps} is not read: the log has one row per stage`],
  ];
  return notes.filter(([on]) => on).map(([, text]) => text);
}

export async function releaseTeam(team: Team): Promise<void> {
  for (const a of team.agents) await a.release();
}

interface Saved { stage: number; team: string; betas: number[] }

const checkpoints = (cfg: SatConfig) => path.join(cfg.logging.saveDir, 'checkpoints');

/** Writes every agent's trainable and optimizer state and beta for `stage`, then points `latest` at it. */
export function saveStage(cfg: SatConfig, team: Team, stage: number): void {
  const root = checkpoints(cfg);
  const name = `stage-${String(stage).padStart(4, '0')}`;
  const tmp = path.join(root, `${name}.tmp`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  team.agents.forEach((a) => a.trainer.save(path.join(tmp, `${a.name}.safetensors`)));
  const saved: Saved = { stage, team: team.id, betas: team.agents.map((a) => a.beta) };
  writeFileAtomic(path.join(tmp, 'state.json'), `${JSON.stringify(saved)}\n`);
  fs.rmSync(path.join(root, name), { recursive: true, force: true });
  fs.renameSync(tmp, path.join(root, name));
  writeFileAtomic(path.join(root, 'latest.json'), `${JSON.stringify({ stage, dir: name })}\n`);
}

/** Loads the latest saved stage into the team; the stage number, or 0 when nothing was saved. */
export function loadLatestStage(cfg: SatConfig, team: Team): number {
  const latest = path.join(checkpoints(cfg), 'latest.json');
  if (!fs.existsSync(latest)) return 0;
  const { dir } = readJson(latest) as { dir: string };
  return loadStage(team, path.join(checkpoints(cfg), dir));
}

/** Loads one saved stage folder (every agent's state and beta) into the team; its stage number. */
export function loadStage(team: Team, folder: string): number {
  const stateFile = path.join(folder, 'state.json');
  if (!fs.existsSync(stateFile)) throw new InputError(`${folder} is not a saved stage: it has no state.json (stage folders are <save_dir>/checkpoints/stage-NNNN)`);
  const saved = readJson(stateFile) as Saved;
  if (saved.team !== team.id) throw new InputError(`${folder} was saved by team ${saved.team}, not by this config's team ${team.id} (its agents, seed or workflow differ)`);
  team.agents.forEach((a, i) => {
    a.trainer.load(path.join(folder, `${a.name}.safetensors`));
    a.beta = saved.betas[i];
  });
  return saved.stage;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file} cannot be read as JSON (${(err as Error).message}); the checkpoint is damaged: point --ckpt at an earlier stage folder`);
  }
}
