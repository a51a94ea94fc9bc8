// Gradient steps on a Qwen3 checkpoint: forward + the caller's loss + autodiff backward + AdamW in one onnxruntime
// graph per (batch, seq) bucket (step-graph.ts), run on the trainer's state (trainer-state.ts), one step at a time.
import type { Graph, Value } from '../../gpu/graph.ts';
import { ADAMW_DEFAULTS, type AdamWConfig, adamwScalars } from '../../gpu/adamw.ts';
import {
  type GraphSession,
  type HostTensor,
  type LoadProgress,
  SessionCache,
  type SessionOptions,
} from '../../gpu/ort.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import { VALUE_HEAD } from '../model/value-head.ts';
import { InputError } from '../errors.ts';
import { type LoraConfig, type ParamSource, frozenAsConstants, frozenInputs } from '../model/weights.ts';
import { type TrainBatch, checkBatch, checkExtra } from './batch.ts';
import type { LossFn } from './losses.ts';
import {
  type StepGraphSpec,
  type StepMode,
  applyGraph,
  batchFeeds,
  gradAccNames,
  metricsOf,
  stepGraph,
} from './step-graph.ts';
import { type InitialTensor, type Trainable, initialParams } from './trainable.ts';
import { loadState, saveState } from './trainer-files.ts';
import {
  type TrainerSnapshot,
  type TrainerState,
  adopt,
  advance,
  initialState,
  interpolate,
  lent,
  lentGroups,
  lentTensors,
  lentParams,
  restore,
  shapesOf,
  snapshot,
  views,
} from './trainer-state.ts';

export interface TrainerOptions {
  loss: LossFn;
  trainable?: Trainable;
  /** AdamW settings over ADAMW_DEFAULTS: warmup and which tensors decay are described on AdamWConfig. */
  optimizer?: Partial<AdamWConfig>;
  session?: SessionOptions;
  /** Seed of the LoRA A initialisation. */
  seed?: number;
  /** Train a value head (value-head.ts) beside the policy, for GAE. */
  valueHead?: boolean;
  /** The policy is softmax(logits / temperature): the loss's token log-probs are taken under it (default 1). */
  temperature?: number;
}

/** `lr` is the learning rate the step used, after warmup; `gradNorm` is taken before clipping. */
export interface StepResult {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  metrics: Record<string, number>;
}

const scalar = (x: number): HostTensor => ({ dtype: 'float32', shape: [], data: Float32Array.of(x) });

export class Trainer {
  private readonly state: TrainerState;
  /** accumulatedStep's gradient sums by group (two sets, swapped), made on its first use. */
  private gradSums?: [Float32Array[], Float32Array[]];
  private queue: Promise<unknown> = Promise.resolve();
  /** The step session of each (batch, seq) bucket. */
  private readonly sessions: SessionCache;
  /** The inputs the loss declared, by bucket (known once its graph is built). */
  private readonly lossInputs = new Map<string, readonly Value[]>();
  private readonly spec: StepGraphSpec;
  readonly optimizer: AdamWConfig;
  readonly lora: LoraConfig | undefined;

  private constructor(
    readonly ckpt: Checkpoint,
    opts: TrainerOptions,
    initial: ReadonlyMap<string, InitialTensor>,
  ) {
    this.optimizer = { ...ADAMW_DEFAULTS, ...opts.optimizer };
    this.lora = opts.trainable?.kind === 'lora' ? opts.trainable.lora : undefined;
    this.state = initialState(initial);
    const trainable = new Set(this.lora ? [] : shapesOf(this.state.groups).keys());
    // onnxruntime's arena makes a small model's steps faster, but at real size it grows by gigabytes a step (the
    // Qwen3-0.6B shape at 4 x 256: 13.8 GiB after three LoRA steps against 10.2 without it, docs/benchmarks.md).
    this.sessions = new SessionCache({
      ...opts.session,
      fileInputs: frozenInputs(ckpt, trainable),
      arena: frozenAsConstants(ckpt),
    });
    this.spec = {
      ckpt,
      groups: this.state.groups,
      trainable,
      lora: this.lora,
      loss: opts.loss,
      optimizer: this.optimizer,
      temperature: opts.temperature ?? 1,
      device: opts.session?.device,
    };
  }

  static create(ckpt: Checkpoint, opts: TrainerOptions): Trainer {
    const initial = initialParams(ckpt, opts.trainable ?? { kind: 'full' }, opts.seed ?? 0, opts.valueHead ?? false);
    return new Trainer(ckpt, opts, initial);
  }

  get step(): number {
    return this.state.step;
  }

  /** The current trainable tensors by name (weights for full fine-tuning, adapters for LoRA). */
  get parameters(): ReadonlyMap<string, Float32Array> {
    return views(this.state, 'params');
  }

  /**
   * The buckets whose training sessions are built and kept now (`step:<batch>x<seq>`, with `@<at.count>` for a batch
   * with `at`, or `grad:...`; exposed for inspection).
   */
  get liveBuckets(): string[] {
    return this.sessions.keys().filter((k) => k !== 'apply');
  }

  /**
   * Releases the training sessions, each with its memory arena, which it keeps for its lifetime:
   * kept across a run, they add up with every sequence length it meets (the demo's agent: 2.0 GB,
   * then 4.5, 7.8 and 11.7 GB over four lengths). The next step builds what it needs again (about
   * 0.5 s for the demo's agent). Waits for the steps begun before.
   */
  releaseSessions(): Promise<void> {
    const run = this.queue.then(async () => {
      for (const key of this.sessions.keys()) await this.sessions.drop(key);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The step graph for one shape bucket (exposed for inspection and benchmarks); with `at`, the loss reads that many
   * log-prob indices a row.
   */
  buildGraph(batch: number, seq: number, at?: number): Graph {
    return stepGraph(this.spec, batch, seq, 'step', at).graph;
  }

  /** The bucket's session (built on first use) and the inputs its loss declared. */
  private bucket(
    batch: number,
    seq: number,
    mode: StepMode,
    at?: number,
  ): { session: Promise<GraphSession>; lossInputs: readonly Value[] } {
    const key = `${mode}:${batch}x${seq}${at === undefined ? '' : `@${at}`}`;
    const session = this.sessions.get(key, () => {
      const { graph, lossInputs } = stepGraph(this.spec, batch, seq, mode, at);
      this.lossInputs.set(key, lossInputs);
      return graph.toBytes();
    });
    return { session, lossInputs: this.lossInputs.get(key)! };
  }

  /** One optimizer step on a batch; a malformed batch is refused with an InputError before anything runs. */
  trainStep(b: TrainBatch): Promise<StepResult> {
    // Steps run one after another: each reads the current buffers and swaps them when it ends.
    const run = this.queue.then(() => this.runStep(b));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One optimizer step on a batch given as micro-batches, in the memory of the largest: each one's
   * gradient times its `weight`, summed, then one AdamW update (clipping the summed gradient). With
   * weights that make the micro-batches' losses add up to the batch's (for a loss that is a mean over
   * tokens, each one's share of the tokens), it is the step on the whole batch. Loss and metrics are
   * the weighted sums.
   */
  accumulatedStep(parts: readonly { batch: TrainBatch; weight: number }[]): Promise<StepResult> {
    const run = this.queue.then(() => this.runAccumulated(parts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runStep(b: TrainBatch): Promise<StepResult> {
    const { session, feeds } = await this.feedsOf(b, 'step');
    const { sc, into, t } = this.adamw(feeds, 'tensor');
    const out = await session.run(feeds, into).finally(() => adopt(this.state, feeds, into));
    return this.stepped(t, sc.lr, Number(out.grad_norm.data[0]), Number(out.loss.data[0]), metricsOf(out));
  }

  private async runAccumulated(parts: readonly { batch: TrainBatch; weight: number }[]): Promise<StepResult> {
    if (parts.length === 0) throw new InputError('accumulatedStep needs at least one micro-batch');
    const { groups } = this.state;
    // Two gradient buffers per group, made once: the sum so far and the next one, swapped per micro-batch.
    this.gradSums ??= [groups.map((g) => new Float32Array(g.size)), groups.map((g) => new Float32Array(g.size))];
    let [acc, next] = this.gradSums;
    for (const a of acc) a.fill(0);
    let loss = 0;
    const metrics: Record<string, number> = {};
    for (const { batch, weight } of parts) {
      const { session, feeds } = await this.feedsOf(batch, 'grad');
      feeds.grad_scale = scalar(weight);
      const into: Record<string, HostTensor> = {};
      groups.forEach((g, i) => {
        const n = gradAccNames(g.name);
        feeds[n.acc] = lent(acc[i], [g.size]);
        into[n.newAcc] = lent(next[i], [g.size]);
      });
      const out = await session.run(feeds, into).finally(() => {
        adopt(this.state, feeds, {});
        groups.forEach((g, i) => {
          const n = gradAccNames(g.name);
          acc[i] = feeds[n.acc].data as Float32Array;
          next[i] = into[n.newAcc].data as Float32Array;
        });
      });
      [acc, next] = [next, acc];
      loss += weight * Number(out.loss.data[0]);
      for (const [k, v] of Object.entries(metricsOf(out))) metrics[k] = (metrics[k] ?? 0) + weight * v;
    }
    const session = await this.sessions.get('apply', () => applyGraph(this.spec).toBytes());
    const feeds: Record<string, HostTensor> = {};
    groups.forEach((g, i) => {
      feeds[gradAccNames(g.name).acc] = lent(acc[i], [g.size]);
    });
    const { sc, into, t } = this.adamw(feeds, 'group');
    const out = await session.run(feeds, into).finally(() => {
      adopt(this.state, feeds, into);
      groups.forEach((g, i) => {
        acc[i] = feeds[gradAccNames(g.name).acc].data as Float32Array;
      });
    });
    return this.stepped(t, sc.lr, Number(out.grad_norm.data[0]), loss, metrics);
  }

  /** A batch's bucket session and its feeds: ids, mask, the loss's inputs and every trainable tensor. */
  private async feedsOf(
    b: TrainBatch,
    mode: StepMode,
  ): Promise<{ session: GraphSession; feeds: Record<string, HostTensor> }> {
    checkBatch(b, this.ckpt.config.vocabSize);
    const bucket = this.bucket(b.batch, b.seq, mode, b.at?.count);
    checkExtra(b.extra ?? {}, bucket.lossInputs);
    const feeds = { ...batchFeeds(b), ...lentParams(this.state) };
    return { session: await bucket.session, feeds };
  }

  /**
   * Adds the next step's AdamW inputs to `feeds` (scalars, each group's parameters and moments); the outputs'
   * buffers.
   */
  private adamw(
    feeds: Record<string, HostTensor>,
    by: 'tensor' | 'group',
  ): {
    sc: ReturnType<typeof adamwScalars>;
    into: Record<string, HostTensor>;
    t: number;
  } {
    const t = this.state.step + 1;
    const sc = adamwScalars(this.optimizer, t);
    const state = by === 'tensor' ? lentTensors(this.state) : lentGroups(this.state);
    Object.assign(feeds, { lr: scalar(sc.lr), bc1: scalar(sc.bc1), bc2: scalar(sc.bc2) }, state.feeds);
    return { sc, into: state.into, t };
  }

  private stepped(t: number, lr: number, gradNorm: number, loss: number, metrics: Record<string, number>): StepResult {
    advance(this.state, t);
    return { step: t, loss, gradNorm, lr, metrics };
  }

  /** The trainable tensors as a ParamSource, so scoring and generation see the current values. */
  paramSource(): ParamSource {
    const shapes = shapesOf(this.state.groups);
    return {
      trainable: this.spec.trainable,
      lora: this.lora,
      pin: () => ({ owner: this, version: this.state.version }),
      current: () => new Map([...views(this.state, 'params')].map(([n, data]) => [n, { data, shape: shapes.get(n)! }])),
    };
  }

  snapshot(): TrainerSnapshot {
    return snapshot(this.state);
  }

  /**
   * Copies a snapshot back in (it stays valid for further restores); refuses one taken from a trainer of other
   * trainable tensors.
   */
  restore(snap: TrainerSnapshot): void {
    restore(this.state, snap);
  }

  /**
   * A step part of the way from one snapshot to a later one (or past it), for a line search:
   * parameters from + f (to - from), optimizer moments and step as in `from`; the tensors `moves` leaves out stay
   * as in `from`.
   */
  interpolate(from: TrainerSnapshot, to: TrainerSnapshot, f: number, moves?: (name: string) => boolean): void {
    interpolate(this.state, from, to, f, moves);
  }

  /**
   * Puts other values of the trained policy tensors in (a replica checking its slot's new weights); the value head, the
   * optimizer's moments and the step stay. Refuses tensors of other names or sizes than this trainer's.
   */
  setParams(tensors: ReadonlyMap<string, { data: Float32Array }>): void {
    const head = new Set<string>(Object.values(VALUE_HEAD));
    const params = [...views(this.state, 'params')].filter(([name]) => !head.has(name));
    for (const [name, view] of params) {
      const t = tensors.get(name);
      if (!t || t.data.length !== view.length)
        throw new InputError(
          `the tensors given have ${t ? `${t.data.length} values` : 'no'} '${name}', this trainer's has ${view.length}`,
        );
    }
    for (const [name, view] of params) view.set(tensors.get(name)!.data);
    this.state.version++;
  }

  /** Writes the trainable tensors, their AdamW moments (`adam_m.`/`adam_v.` + name) and the step as safetensors. */
  save(file: string): void {
    saveState(file, this.state);
  }

  /** Loads what `save` wrote (tensors, moments, step); every trainable tensor must be present with the same size. */
  load(file: string): void {
    loadState(file, this.state);
  }

  /** Reads the frozen weights now (they are otherwise read by the first step), reporting progress. */
  loadWeights(onProgress?: LoadProgress): Promise<void> {
    return this.sessions.load(onProgress);
  }

  async release(): Promise<void> {
    await this.sessions.release();
  }
}
