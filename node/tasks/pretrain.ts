// `sat-peer pretrain`: makes an embedded agent from scratch — a randomly initialised Qwen3 of a given
// size, taught the synthetic chain task by supervised fine-tuning on correct transcripts (every step,
// so any agent can take any turn), then written as a Hugging Face checkpoint folder.
import fs from 'node:fs';
import path from 'node:path';
import type { HostTensor } from '../gpu/ort.ts';
import { writeSafetensors } from '../gpu/safetensors.ts';
import { type ChainFormat, type ChainTranscript, chainAccuracy, chainFormat } from './chain.ts';
import { loadCheckpoint } from '../agent/model/checkpoint.ts';
import { Generator } from '../agent/model/generate.ts';
import { sftLoss } from '../agent/train/losses.ts';
import { rng } from '../agent/model/random.ts';
import { padBatch } from '../agent/model/score.ts';
import { type SyntheticConfig, writeSyntheticCheckpoint } from '../agent/model/random-checkpoint.ts';
import { type ChainProblem, chainTurns } from './synthetic-task.ts';
import { loadTokenizer } from '../agent/model/tokenizer.ts';
import { Trainer } from '../agent/train/trainer.ts';

export interface PretrainOptions {
  /** The checkpoint folder to write (replaced as a whole when training ends). */
  out: string;
  /** A folder with the tokenizer.json (and tokenizer_config.json) the model is made for. */
  tokenizerDir: string;
  model: Omit<SyntheticConfig, 'vocabSize'>;
  train: readonly ChainProblem[];
  test: readonly ChainProblem[];
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  threads?: number;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
}

export interface PretrainResult {
  finalLoss: number;
  testAccuracy: number;
  parameters: number;
}

/** The teacher-forced sequences of a problem's transcript, and the mask of the tokens the model learns (every turn). */
function sequencesOf(f: ChainFormat, p: ChainProblem): { ids: number[]; learn: boolean[] }[] {
  const t: ChainTranscript = {
    promptIds: f.promptIds(p.prompt),
    turns: chainTurns(p).map((text, slot) => ({ slot, ids: f.turnIds(text), logprobs: [] })),
  };
  const { sequences, turns } = f.layout(t);
  return sequences.map((ids, s) => {
    const spans = turns.filter((u) => u.sequence === s).map((u) => u.span);
    return { ids, learn: ids.map((_, i) => spans.some(([a, b]) => i >= a && i < b)) };
  });
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const tok = loadTokenizer(o.tokenizerDir);
  const work = `${o.out}.tmp-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  try {
    writeSyntheticCheckpoint(work, { ...o.model, vocabSize: tok.vocabSize }, o.seed);
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
      if (fs.existsSync(path.join(o.tokenizerDir, file)))
        fs.copyFileSync(path.join(o.tokenizerDir, file), path.join(work, file));
    }
    return await trainInto(work, o, tok);
  } finally {
    fs.rmSync(work, { recursive: true, force: true }); // only left when training failed
  }
}

/** Trains the model in `work`, writes it, measures it and moves it to `o.out`. */
async function trainInto(
  work: string,
  o: PretrainOptions,
  tok: ReturnType<typeof loadTokenizer>,
): Promise<PretrainResult> {
  const f = chainFormat(tok);
  const ckpt = loadCheckpoint(work);
  const session = o.threads ? { threads: o.threads } : {};
  const trainer = Trainer.create(ckpt, {
    loss: sftLoss,
    optimizer: { lr: o.lr, warmupSteps: Math.min(100, o.steps / 10), weightDecay: 0.01 },
    session,
  });
  const examples = o.train.flatMap((p) => sequencesOf(f, p));
  const width = Math.max(...examples.map((e) => e.ids.length));
  const next = rng(o.seed);
  let loss = NaN;
  const tensors: Record<string, HostTensor> = {};
  try {
    for (let step = 1; step <= o.steps; step++) {
      const rows = Array.from({ length: o.batch }, () => examples[Math.floor(next() * examples.length)]);
      const { ids, mask } = padBatch(
        rows.map((r) => r.ids),
        width,
      );
      const lossMask = new Float32Array(o.batch * (width - 1));
      rows.forEach((r, b) =>
        r.learn.forEach((on, t) => {
          if (on && t > 0) lossMask[b * (width - 1) + t - 1] = 1;
        }),
      );
      const extra: Record<string, HostTensor> = {
        loss_mask: { dtype: 'float32', shape: [o.batch, width - 1], data: lossMask },
      };
      ({ loss } = await trainer.trainStep({ batch: o.batch, seq: width, inputIds: ids, attentionMask: mask, extra }));
      o.onProgress?.({ step, steps: o.steps, loss });
    }
    for (const [name, data] of trainer.parameters)
      tensors[name] = { dtype: 'float32', shape: ckpt.tensors.get(name)!.shape, data: data.slice() };
  } finally {
    await trainer.release();
  }
  writeSafetensors(path.join(work, 'model.safetensors'), tensors);

  const gen = new Generator(loadCheckpoint(work), session);
  let testAccuracy: number;
  try {
    testAccuracy = await chainAccuracy(
      f,
      Array.from({ length: o.test[0]?.steps.length ?? 0 }, () => gen),
      o.test,
    );
  } finally {
    await gen.release();
  }
  // Replace the old folder only once the new one is complete.
  const old = `${o.out}.old-${process.pid}`;
  if (fs.existsSync(o.out)) fs.renameSync(o.out, old);
  fs.renameSync(work, o.out);
  fs.rmSync(old, { recursive: true, force: true });
  let parameters = 0;
  for (const t of Object.values(tensors)) parameters += t.data.length;
  return { finalLoss: loss, testAccuracy, parameters };
}
