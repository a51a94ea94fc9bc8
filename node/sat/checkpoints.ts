// The stage checkpoints under `logging.save_dir` (docs/design §5.3): every agent's trained and optimizer state,
// beta and Stage-0 incumbent, written to a temporary folder and renamed, so a kill at any moment leaves the last
// complete stage loadable. A slot upgraded through Stage-0 keeps its newcomer's folder and its incumbent there.
import fs from 'node:fs';
import path from 'node:path';
import type { Agent } from '../agent/agent.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { InputError } from '../agent/errors.ts';
import { loadParams, saveParams } from '../agent/model/frozen-params.ts';
import { readSafetensorsHeader } from '../gpu/safetensors.ts';
import type { LoraConfig } from '../agent/model/weights.ts';
import type { SatConfig } from '../config/load.ts';
import type { SessionOptions } from '../gpu/ort.ts';
import type { StageRecord, StageTeam } from './stage.ts';
import { STAGE_LOG, stageLog } from './stage-log.ts';
import { type LocalTeam, buildTeam, makeIncumbent, releaseTeam, runSeed, threadsOnly } from './team.ts';

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
const stageName = (stage: number) => `stage-${String(stage).padStart(4, '0')}`;
const incumbentFile = (folder: string, name: string) => path.join(folder, `${name}.incumbent.safetensors`);

/**
 * Writes every agent's (here) trainable and optimizer state, beta and Stage-0 incumbent for `stage`,
 * and the stage's record when given (the stage loop saves before its evaluation, and logs the row after),
 * then points `latest` at it.
 */
export function saveStage(cfg: SatConfig, team: StageTeam, stage: number, record?: StageRecord): void {
  const tmp = path.join(checkpoints(cfg), `${stageName(stage)}.tmp`);
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
  commitStage(cfg, stage, tmp);
}

/** Moves the whole folder `tmp` into place as `stage`'s, points `latest` at it and prunes the older ones. */
function commitStage(cfg: SatConfig, stage: number, tmp: string): void {
  const root = checkpoints(cfg);
  const name = stageName(stage);
  fs.rmSync(path.join(root, name), { recursive: true, force: true });
  fs.renameSync(tmp, path.join(root, name));
  writeFileAtomic(path.join(root, 'latest.json'), `${JSON.stringify({ stage, dir: name })}\n`);
  pruneStages(root, stage, cfg.logging.keepCheckpoints);
}

/** The names of a slot's state's files, as slotStateFiles gives them: the only ones a state may hold. */
export function slotStateNames(cfg: SatConfig, slot: number): string[] {
  const name = cfg.sat.agents[slot].name;
  return ['state.json', `${name}.safetensors`, `${name}.incumbent.safetensors`, 'record.json', STAGE_LOG];
}

/**
 * The files of `slot`'s state as its peer saved it after the latest stage — its trained and optimizer state, beta,
 * Stage-0 incumbent and the stage's record — with the stage log, by name (slotStateNames), and the shape of each
 * tensor of its trained state by name; what the peer offers the team so that another can carry the slot on
 * (docs/design §4.14). Undefined before the first stage.
 */
export function slotStateFiles(
  cfg: SatConfig,
  slot: number,
): { stage: number; files: Record<string, string>; tensors: Record<string, number[]> } | undefined {
  const folder = latestStageFolder(cfg);
  if (!folder) return undefined;
  const saved = readSaved(cfg, folder);
  const files = Object.fromEntries(
    slotStateNames(cfg, slot)
      .map((f) => [f, f === STAGE_LOG ? stageLog(cfg) : path.join(folder, f)])
      .filter(([, file]) => fs.existsSync(file)),
  );
  const trained = readSafetensorsHeader(path.join(folder, `${cfg.sat.agents[slot].name}.safetensors`));
  const tensors = Object.fromEntries([...trained].map(([name, info]) => [name, info.shape]));
  return { stage: saved.stage, files, tensors };
}

/**
 * Checks that `dir`, holding a slot state's files as fetched from the team, is a state of `slot` saved by this team
 * after `stage`, and readies it to be this peer's: the slot's agent runs on `model`, this peer's checkpoint folder
 * (where the saver's was is no concern here). An InputError names what is wrong.
 */
export function readySlotState(cfg: SatConfig, slot: number, dir: string, stage: number, model: string): void {
  const name = cfg.sat.agents[slot].name;
  const refuse = (what: string) =>
    new InputError(`the state of slot ${slot} ('${name}') fetched for stage ${stage} ${what}: not taken`);
  const saved = readSaved(cfg, dir);
  if (saved.stage !== stage) throw refuse(`says it was saved after stage ${JSON.stringify(saved.stage)}`);
  if (!Array.isArray(saved.betas) || saved.betas.length !== cfg.sat.agents.length)
    throw refuse(`has ${JSON.stringify(saved.betas)} for the betas of ${cfg.sat.agents.length} slots`);
  const beta = saved.betas[slot];
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0) throw refuse('holds no beta of the slot');
  if (!fs.existsSync(path.join(dir, `${name}.safetensors`))) throw refuse(`holds no ${name}.safetensors`);
  const stage0 = saved.slots?.[slot]?.stage0;
  if (stage0 !== undefined) {
    const { incumbent, lora, delta } = stage0;
    if (typeof incumbent !== 'string' || typeof lora !== 'object' || !(Number.isFinite(delta) && delta > 0))
      throw refuse('has a Stage-0 ball that is not a folder, LoRA settings and a radius');
    if (!fs.existsSync(incumbentFile(dir, name))) throw refuse(`holds no ${name}.incumbent.safetensors`);
    if (!fs.existsSync(incumbent))
      throw new InputError(
        `slot ${slot}'s state is in Stage-0 around the incumbent checkpoint ${incumbent}, which this machine lacks: ` +
          'put that checkpoint there and start again',
      );
  }
  const record = path.join(dir, 'record.json');
  if (fs.existsSync(record) && (readJson(record) as { stage?: unknown } | null)?.stage !== stage)
    throw refuse('has the record of another stage');
  const own: SavedSlot = {
    ...(path.resolve(model) === path.resolve(cfg.sat.agents[slot].path) ? {} : { model: path.resolve(model) }),
    ...(stage0 ? { stage0 } : {}),
  };
  const mine: Saved = { ...saved, slots: saved.betas.map((_, s) => (s === slot ? own : {})) };
  writeFileAtomic(path.join(dir, 'state.json'), `${JSON.stringify(mine)}\n`);
}

/** Makes `dir`, readied by readySlotState, this peer's latest saved stage `stage`; the stage log in it becomes this peer's. */
export function commitSlotState(cfg: SatConfig, dir: string, stage: number): void {
  const log = path.join(dir, STAGE_LOG);
  if (fs.existsSync(log)) {
    fs.mkdirSync(cfg.logging.saveDir, { recursive: true });
    fs.renameSync(log, stageLog(cfg));
  }
  fs.mkdirSync(checkpoints(cfg), { recursive: true });
  commitStage(cfg, stage, dir);
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

/**
 * The config's team as saved in a stage folder (each slot on its saved model, with its state, beta
 * and Stage-0 incumbent), or as configured when `folder` is undefined; with the stage number (0 then).
 */
export async function openTeam(
  cfg: SatConfig,
  folder: string | undefined,
  threads?: number,
): Promise<{ team: LocalTeam; stage: number }> {
  if (!folder) return { team: await buildTeam(cfg, threads), stage: 0 };
  const saved = readSaved(cfg, folder);
  const team = await buildTeam(cfg, threads, saved.slots?.map((s) => s.model) ?? []);
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
