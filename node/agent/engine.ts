// One agent's model behind a compute worker: scoring, generation and training run on their own
// thread, so a peer's network loop keeps ticking through steps that take seconds.
import { ComputeWorker } from '../gpu/compute-worker.ts';
import type { SessionOptions } from '../gpu/ort.ts';
import type { Qwen3Config } from './checkpoint.ts';
import type { GenerateOptions, Generation } from './generate.ts';
import type { ScoreResult } from './score.ts';
import type { StepResult, TrainBatch, TrainerOptions } from './train.ts';

export type EngineTrainOptions = Omit<TrainerOptions, 'loss' | 'session'> & { loss: string };

export class Engine {
  private constructor(private readonly worker: ComputeWorker, readonly config: Qwen3Config) {}

  /** Starts a worker and loads the checkpoint in `dir` there. */
  static async open(dir: string, options: SessionOptions = {}): Promise<Engine> {
    const worker = await ComputeWorker.start(new URL('./engine-worker.ts', import.meta.url), { name: 'engine' });
    try {
      return new Engine(worker, await worker.call<Qwen3Config>('open', [dir, options]));
    } catch (e) {
      await worker.close();
      throw e;
    }
  }

  score(rows: number[][]): Promise<ScoreResult> { return this.worker.call('score', [rows]); }

  generate(prompts: number[][], opts: Omit<GenerateOptions, 'decode'>): Promise<Generation[]> {
    return this.worker.call('generate', [prompts, opts]);
  }

  /** Starts training (a loss from LOSSES by name); scoring and generation then use the trained weights. */
  train(opts: EngineTrainOptions): Promise<void> { return this.worker.call('train', [opts]); }

  /** One optimizer step; the batch's buffers move to the worker. */
  trainStep(batch: TrainBatch): Promise<StepResult> {
    const buffers = [batch.inputIds, batch.attentionMask, ...Object.values(batch.extra ?? {}).map((t) => t.data)].map((a) => a.buffer as ArrayBuffer);
    return this.worker.call('trainStep', [batch], [...new Set(buffers)]);
  }

  snapshot(): Promise<number> { return this.worker.call('snapshot', []); }
  restore(id: number): Promise<void> { return this.worker.call('restore', [id]); }
  dropSnapshot(id: number): Promise<void> { return this.worker.call('dropSnapshot', [id]); }
  save(file: string): Promise<void> { return this.worker.call('save', [file]); }
  load(file: string): Promise<void> { return this.worker.call('load', [file]); }

  close(): Promise<void> { return this.worker.close(); }
}
