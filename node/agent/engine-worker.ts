// The compute worker's handlers (see node/gpu/compute-worker.ts): one model per worker, with its
// scorer, generator and optional trainer. Called through Engine (engine.ts), never directly.
import fs from 'node:fs';
import path from 'node:path';
import { withTransfer } from '../gpu/compute-worker.ts';
import type { SessionOptions } from '../gpu/ort.ts';
import { type Checkpoint, loadCheckpoint } from './checkpoint.ts';
import { InputError } from './errors.ts';
import { type GenerateOptions, type Generation, Generator } from './generate.ts';
import { LOSSES } from './losses.ts';
import { type ScoreResult, Scorer } from './score.ts';
import { type Tokenizer, loadTokenizer } from './tokenizer.ts';
import { type StepResult, type TrainBatch, Trainer, type TrainerOptions, type TrainerSnapshot } from './train.ts';

let ckpt: Checkpoint | undefined;
let session: SessionOptions = {};
let tokenizer: Tokenizer | undefined;
let trainer: Trainer | undefined;
let scorer: Scorer | undefined;
let generator: Generator | undefined;
const snapshots = new Map<number, TrainerSnapshot>();
let nextSnapshot = 0;

const model = (): Checkpoint => {
  if (!ckpt) throw new InputError('no model is open in this engine');
  return ckpt;
};

async function resetRunners(): Promise<void> {
  await scorer?.release();
  await generator?.release();
  const source = trainer?.paramSource();
  scorer = new Scorer(model(), session, source);
  generator = new Generator(model(), session, source);
}

export async function open(dir: string, options: SessionOptions): Promise<Checkpoint['config']> {
  ckpt = loadCheckpoint(dir);
  session = options;
  tokenizer = fs.existsSync(path.join(ckpt.dir, 'tokenizer.json')) ? loadTokenizer(ckpt.dir) : undefined;
  await resetRunners();
  return ckpt.config;
}

export async function score(rows: number[][]): Promise<ScoreResult> {
  const out = await scorer!.score(rows);
  return withTransfer(out, [...out.tokenLogprobs, ...out.lastLogits].map((a) => a.buffer as ArrayBuffer));
}

export function generate(prompts: number[][], opts: Omit<GenerateOptions, 'decode'>): Promise<Generation[]> {
  const decode = tokenizer ? (ids: number[]) => tokenizer!.decode(ids) : undefined;
  return generator!.generate(prompts, { ...opts, decode });
}

export async function train(opts: Omit<TrainerOptions, 'loss' | 'session'> & { loss: string }): Promise<void> {
  const loss = LOSSES[opts.loss];
  if (!loss) throw new InputError(`unknown loss '${opts.loss}': choose one of ${Object.keys(LOSSES).join(', ')}`);
  await trainer?.release();
  trainer = Trainer.create(model(), { ...opts, loss, session });
  await resetRunners();
}

const learner = (): Trainer => {
  if (!trainer) throw new InputError('no trainer: call train() first');
  return trainer;
};

export const trainStep = (batch: TrainBatch): Promise<StepResult> => learner().trainStep(batch);

export function snapshot(): number {
  snapshots.set(nextSnapshot, learner().snapshot());
  return nextSnapshot++;
}

export function restore(id: number): void {
  const snap = snapshots.get(id);
  if (!snap) throw new InputError(`no snapshot ${id}`);
  learner().restore(snap);
}

export function dropSnapshot(id: number): void { snapshots.delete(id); }

export const save = (file: string): void => learner().save(file);
export const load = (file: string): void => learner().load(file);
