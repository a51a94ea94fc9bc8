// Gradient steps on a Qwen3 checkpoint: forward + the caller's loss + autodiff backward + AdamW, all in
// one onnxruntime graph per (batch, seq) bucket. Parameters and moments live in float32 buffers on the
// host, go in as inputs and come back into a second set of buffers (swapped every step). On the
// session worker these buffers are lent (moved there for the step and back), never copied.
import { type DType, Graph, type Shape, type Value, numel } from '../../gpu/graph.ts';
import { gradients } from '../../gpu/autodiff.ts';
import * as op from '../../gpu/ops.ts';
import {
  ADAMW_DEFAULTS,
  type AdamWConfig,
  type GroupName,
  type ParamGroup,
  adamwFromFlat,
  adamwScalars,
  adamwUpdate,
  flatGradients,
  groupNames,
  paramGroups,
} from '../../gpu/adamw.ts';
import { type GraphSession, type HostTensor, SessionCache, type SessionOptions } from '../../gpu/ort.ts';
import { readTensor, toFloat32, writeSafetensors, readSafetensorsHeader } from '../../gpu/safetensors.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import { InputError, ModelFormatError } from '../errors.ts';
import { qwen3Forward, writesAttentionOut } from '../model/qwen3.ts';
import { defaultPositions, tokenLogprobs, tokenLogprobsAt } from '../model/score.ts';
import {
  type LoraConfig,
  type ParamSource,
  bindWeights,
  isLoraTarget,
  loraNames,
  validateLora,
} from '../model/weights.ts';
import { rng } from '../model/random.ts';
import { VALUE_HEAD, initialValueHead, valueHead } from '../model/value-head.ts';

/** What a loss sees: the batch, the model's outputs, and a way to declare extra per-batch inputs. */
export interface LossContext {
  graph: Graph;
  /** [B, T] int64 token ids and the 1/0 attention mask. */
  ids: Value;
  attentionMask: Value;
  /**
   * [B, T, vocab] logits and [B, T-1] next-token log-probs (index t: token t+1's). For a batch with
   * `at` (TrainBatch), only at those P indices: [B, P, vocab] and [B, P].
   */
  logits: Value;
  tokenLogprobs: Value;
  /**
   * [B, T] V(s_t) of the value head, when the trainer has one (TrainerOptions.valueHead); [B, P] for a batch with
   * `at`.
   */
  values?: Value;
  /** Declares an input the caller feeds at every step under `name` (advantages, weights, scalars). */
  input(name: string, dtype: DType, shape: Shape): Value;
}

/** A loss: a scalar, optionally with scalar metrics to report. */
export type LossFn = (ctx: LossContext) => Value | { loss: Value; metrics: Record<string, Value> };

export type Trainable = { kind: 'full' } | { kind: 'lora'; lora: LoraConfig };

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

export interface TrainBatch {
  batch: number;
  seq: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** Tensors for exactly the inputs the loss declared, with the declared dtypes and shapes. */
  extra?: Record<string, HostTensor>;
  /**
   * The only log-prob indices the loss reads ([batch, count] row-major; index t: the log-prob of
   * token t+1), so the head and its log-softmax run at those alone, not at every position: a loss
   * over one agent's tokens of a longer trajectory. Indices a row does not need may repeat any valid
   * one, masked out by the loss.
   */
  at?: { index: BigInt64Array; count: number };
}

/** `lr` is the learning rate the step used, after warmup; `gradNorm` is taken before clipping. */
export interface StepResult {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  metrics: Record<string, number>;
}

/** One parameter group's flat buffers: parameters and the two AdamW moments. */
interface GroupState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}
type State = Map<GroupName, GroupState>;

/** A deep copy of everything a step changes, for the learner's backtracking; `layout` names the trainable tensors. */
export interface TrainerSnapshot {
  step: number;
  layout: string;
  state: State;
}

/** The optimizer step in saved trainer state (AdamW's bias correction depends on it). */
const STEP_TENSOR = 'optimizer.step';

const f32 = (data: Float32Array, shape: Shape): HostTensor => ({ dtype: 'float32', shape, data });
const scalar = (x: number): HostTensor => f32(Float32Array.of(x), []);
/** A state buffer fed or written by a step: on the session worker it is moved there and back, not copied. */
const lent = (data: Float32Array, shape: Shape): HostTensor => ({ dtype: 'float32', shape, data, lend: true });
const metricsOf = (out: Record<string, HostTensor>): Record<string, number> =>
  Object.fromEntries(
    Object.keys(out)
      .filter((k) => k.startsWith('metric.'))
      .map((k) => [k.slice(7), Number(out[k].data[0])]),
  );
const emptyState = (groups: readonly ParamGroup[]): State =>
  new Map(
    groups.map((g) => [
      g.name,
      { params: new Float32Array(g.size), m: new Float32Array(g.size), v: new Float32Array(g.size) },
    ]),
  );
const cloneState = (s: State): State =>
  new Map([...s].map(([k, x]) => [k, { params: x.params.slice(), m: x.m.slice(), v: x.v.slice() }]));

/** The checkpoint tensors the Qwen3 graph reads: not extras such as rotary inv_freq buffers, nor a tied lm_head. */
function modelTensorNames(ckpt: Checkpoint): Set<string> {
  const g = new Graph('probe');
  const ids = g.input('input_ids', 'int64', [1, 1]);
  const { weights, params } = bindWeights(g, ckpt, new Set(ckpt.tensors.keys()));
  qwen3Forward(ckpt.config, weights, { ids, positions: ids, keyMask: op.cast(ids, 'bool'), maxPosition: 1 });
  return new Set(params.keys());
}

/** Refuses (InputError) a batch whose shape, token ids or attention mask are malformed. */
function checkBatch(b: TrainBatch, vocab: number): void {
  if (!Number.isSafeInteger(b.batch) || b.batch <= 0 || !Number.isSafeInteger(b.seq) || b.seq <= 0) {
    throw new InputError(`batch and seq must be positive integers, got batch ${b.batch} and seq ${b.seq}`);
  }
  for (const [key, data] of [
    ['inputIds', b.inputIds],
    ['attentionMask', b.attentionMask],
  ] as const) {
    if (!(data instanceof BigInt64Array) || data.length !== b.batch * b.seq) {
      throw new InputError(
        `${key} must be a BigInt64Array of batch × seq = ${b.batch * b.seq} values (rows one after another), got ` +
          `${data instanceof BigInt64Array ? data.length : typeof data}`,
      );
    }
  }
  const at = (i: number) => `row ${Math.floor(i / b.seq)}, position ${i % b.seq}`;
  const end = BigInt(vocab);
  const bad = b.inputIds.findIndex((id) => id < 0n || id >= end);
  if (bad >= 0)
    throw new InputError(
      `token id ${b.inputIds[bad]} at ${at(bad)} is out of range: the vocabulary has ${vocab} ids (0..${vocab - 1})`,
    );
  const odd = b.attentionMask.findIndex((m) => m !== 0n && m !== 1n);
  if (odd >= 0)
    throw new InputError(`attentionMask is ${b.attentionMask[odd]} at ${at(odd)}; use 1 for tokens and 0 for padding`);
  if (!b.at) return;
  const { index, count } = b.at;
  if (
    !Number.isSafeInteger(count) ||
    count <= 0 ||
    !(index instanceof BigInt64Array) ||
    index.length !== b.batch * count
  ) {
    throw new InputError(
      `at.index must be a BigInt64Array of batch × at.count values (at.count a positive integer), got ` +
        `${index instanceof BigInt64Array ? index.length : typeof index} for count ${count}`,
    );
  }
  const last = BigInt(b.seq - 2);
  const out = index.findIndex((i) => i < 0n || i > last);
  if (out >= 0)
    throw new InputError(
      `at.index ${index[out]} (row ${Math.floor(out / count)}) is out of range: log-prob indices run ` +
        `0..${b.seq - 2} for sequences of ${b.seq}`,
    );
}

/** Refuses (InputError) `extra` unless it holds exactly the inputs the loss declared, with their dtypes and shapes. */
function checkExtra(extra: Record<string, HostTensor>, declared: readonly Value[]): void {
  const names = new Set(declared.map((v) => v.name));
  const stray = Object.keys(extra).find((n) => !names.has(n));
  if (stray !== undefined)
    throw new InputError(
      `batch.extra has '${stray}', which the loss does not declare; it declares ` +
        `${[...names].map((n) => `'${n}'`).join(', ') || 'no inputs'}`,
    );
  for (const v of declared) {
    const t = extra[v.name];
    const want = `${v.dtype} [${v.shape.join(', ')}]`;
    if (!t) throw new InputError(`batch.extra lacks '${v.name}': the loss needs it as ${want}`);
    if (t.dtype !== v.dtype || t.shape.join() !== v.shape.join() || t.data?.length !== numel(v.shape)) {
      throw new InputError(
        `batch.extra '${v.name}' is ${t.dtype} [${t.shape.join(', ')}] with ${t.data?.length} values; the loss needs ${want}`,
      );
    }
  }
}

export class Trainer {
  private state: State;
  private spare: State;
  /** accumulatedStep's gradient sums by group (two sets, swapped), made on its first use. */
  private gradSums?: [Float32Array[], Float32Array[]];
  private stepCount = 0;
  /**
   * Changes whenever the parameters do: the session worker keeps them across runs for this version (HostTensor.pin).
   */
  private version = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** The step session of each (batch, seq) bucket. */
  private readonly sessions: SessionCache;
  /** The inputs the loss declared, by bucket (known once its graph is built). */
  private readonly lossInputs = new Map<string, readonly Value[]>();
  private readonly groups: ParamGroup[];
  /** The trainable tensors' names, shapes and places, which a snapshot must share to be restored. */
  private readonly layout: string;
  readonly optimizer: AdamWConfig;

  private constructor(
    readonly ckpt: Checkpoint,
    private readonly opts: TrainerOptions,
    initial: Map<string, { data: Float32Array; shape: Shape }>,
  ) {
    this.sessions = new SessionCache({ ...opts.session, externalDataDir: ckpt.dir, arena: true });
    this.optimizer = { ...ADAMW_DEFAULTS, ...opts.optimizer };
    this.groups = paramGroups([...initial].map(([n, t]) => [n, t.shape]));
    this.layout = this.groups
      .map((g) => `${g.name}: ${g.members.map((m) => `${m.name} [${m.shape.join(', ')}]`).join(', ')}`)
      .join('; ');
    this.state = emptyState(this.groups);
    this.spare = emptyState(this.groups);
    for (const [name, view] of this.views('params')) view.set(initial.get(name)!.data);
  }

  static create(ckpt: Checkpoint, opts: TrainerOptions): Trainer {
    const trainable = opts.trainable ?? { kind: 'full' };
    const params = new Map<string, { data: Float32Array; shape: Shape }>();
    if (trainable.kind === 'full') {
      const read = modelTensorNames(ckpt);
      for (const [name, info] of ckpt.tensors) {
        if (read.has(name)) params.set(name, { data: toFloat32(readTensor(info)), shape: info.shape });
      }
    } else {
      validateLora(ckpt, trainable.lora);
      const { rank } = trainable.lora;
      const next = rng(opts.seed ?? 0);
      for (const [name, info] of ckpt.tensors) {
        if (!isLoraTarget(trainable.lora, name)) continue;
        const [out, inp] = info.shape;
        const n = loraNames(name);
        const bound = 1 / Math.sqrt(inp); // PEFT's default: A kaiming-uniform, B zero
        params.set(n.a, {
          data: Float32Array.from({ length: rank * inp }, () => (next() * 2 - 1) * bound),
          shape: [rank, inp],
        });
        params.set(n.b, { data: new Float32Array(out * rank), shape: [out, rank] });
      }
    }
    if (opts.valueHead) for (const [name, t] of initialValueHead(ckpt.config.hiddenSize)) params.set(name, t);
    return new Trainer(ckpt, opts, params);
  }

  /** Each trainable tensor as a view of its group's current `params`, `m` or `v` buffer. */
  private views(which: keyof GroupState, state = this.state): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const g of this.groups) {
      const buf = state.get(g.name)![which];
      if (buf.length !== g.size)
        throw new Error(
          "the trainer's tensors are not on this thread: a step holds them on the session worker (await it before " +
            'reading them), or the worker was lost during one',
        );
      for (const m of g.members) out.set(m.name, buf.subarray(m.offset, m.offset + numel(m.shape)));
    }
    return out;
  }

  private shapes(): Map<string, Shape> {
    return new Map(this.groups.flatMap((g) => g.members.map((m) => [m.name, m.shape] as const)));
  }

  get step(): number {
    return this.stepCount;
  }

  /** The current trainable tensors by name (weights for full fine-tuning, adapters for LoRA). */
  get parameters(): ReadonlyMap<string, Float32Array> {
    return this.views('params');
  }

  get lora(): LoraConfig | undefined {
    const t = this.opts.trainable;
    return t?.kind === 'lora' ? t.lora : undefined;
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
    return this.stepGraph(batch, seq, 'step', at).graph;
  }

  /**
   * The graph of one (batch, seq[, at]) bucket: forward, the loss and its gradient, then either the
   * AdamW update ('step') or, for a micro-batch ('grad'), `new_grad_acc.<group>` = `grad_acc.<group>`
   * + `grad_scale` x the group's flat gradient. With `at`, input `logprob_index` [batch, at] picks
   * the log-probs the loss sees (TrainBatch.at), and the head runs there only.
   */
  private stepGraph(
    batch: number,
    seq: number,
    mode: 'step' | 'grad' = 'step',
    at?: number,
  ): { graph: Graph; lossInputs: Value[] } {
    const g = new Graph(mode === 'step' ? 'train_step' : 'train_grad');
    const ids = g.input('input_ids', 'int64', [batch, seq]);
    const attentionMask = g.input('attention_mask', 'int64', [batch, seq]);
    const index = at === undefined ? undefined : g.input('logprob_index', 'int64', [batch, at]);
    const shapes = this.shapes();
    const trainable = new Set(this.lora ? [] : shapes.keys());
    const { weights, params } = bindWeights(g, this.ckpt, trainable, this.lora);
    const keyMask = op.cast(attentionMask, 'bool');
    const { logits, hidden } = qwen3Forward(this.ckpt.config, weights, {
      ids,
      positions: defaultPositions(ids),
      keyMask,
      maxPosition: seq,
      ...(index ? { last: index } : {}),
      writtenOutAttention: writesAttentionOut(this.opts.session?.device),
    });
    const t = this.opts.temperature ?? 1;
    const scaled = t === 1 ? logits : op.div(logits, op.scalarLike(logits, t));
    let values: Value | undefined;
    if (shapes.has(VALUE_HEAD.weight)) {
      const [w, b] = [VALUE_HEAD.weight, VALUE_HEAD.bias].map((name) => g.input(name, 'float32', shapes.get(name)!));
      params.set(VALUE_HEAD.weight, w);
      params.set(VALUE_HEAD.bias, b);
      values = valueHead(hidden, w, b);
    }
    const lossInputs: Value[] = [];
    const out = this.opts.loss({
      graph: g,
      ids,
      attentionMask,
      logits,
      ...(values ? { values } : {}),
      tokenLogprobs: index ? tokenLogprobsAt(scaled, ids, index) : tokenLogprobs(scaled, ids),
      input: (name, dtype, shape) => {
        const v = g.input(name, dtype, shape);
        lossInputs.push(v);
        return v;
      },
    });
    const { loss, metrics } = 'loss' in out ? out : { loss: out, metrics: {} };
    g.output(loss, 'loss');
    for (const [k, v] of Object.entries(metrics)) g.output(v, `metric.${k}`);
    const names = [...shapes.keys()];
    const grads = gradients(
      loss,
      names.map((n) => params.get(n)!),
    );
    const byName = new Map(names.map((n, i) => [n, grads[i]]));
    if (mode === 'step') {
      adamwUpdate(g, this.groups, byName, this.optimizer);
    } else {
      const scale = g.input('grad_scale', 'float32', []);
      flatGradients(this.groups, byName).forEach((flat, i) => {
        const name = this.groups[i].name;
        g.output(
          op.add(g.input(`grad_acc.${name}`, 'float32', [this.groups[i].size]), op.mul(flat, scale)),
          `new_grad_acc.${name}`,
        );
      });
    }
    return { graph: g, lossInputs };
  }

  /** AdamW from gradients summed over micro-batches (`grad_acc.<group>`). */
  private applyGraph(): Graph {
    const g = new Graph('train_apply');
    adamwFromFlat(
      g,
      this.groups,
      this.groups.map((grp) => g.input(`grad_acc.${grp.name}`, 'float32', [grp.size])),
      this.optimizer,
    );
    return g;
  }

  /** The bucket's session (built on first use) and the inputs its loss declared. */
  private bucket(
    batch: number,
    seq: number,
    mode: 'step' | 'grad',
    at?: number,
  ): { session: Promise<GraphSession>; lossInputs: readonly Value[] } {
    const key = `${mode}:${batch}x${seq}${at === undefined ? '' : `@${at}`}`;
    const session = this.sessions.get(key, () => {
      const { graph, lossInputs } = this.stepGraph(batch, seq, mode, at);
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
    const { session, feeds } = await this.batchFeeds(b, 'step');
    const { sc, into, t } = this.adamw(feeds);
    const out = await session.run(feeds, into).finally(() => this.adopt(feeds, into));
    return this.stepped(t, sc.lr, Number(out.grad_norm.data[0]), Number(out.loss.data[0]), metricsOf(out));
  }

  private async runAccumulated(parts: readonly { batch: TrainBatch; weight: number }[]): Promise<StepResult> {
    if (parts.length === 0) throw new InputError('accumulatedStep needs at least one micro-batch');
    // Two gradient buffers per group, made once: the sum so far and the next one, swapped per micro-batch.
    this.gradSums ??= [
      this.groups.map((g) => new Float32Array(g.size)),
      this.groups.map((g) => new Float32Array(g.size)),
    ];
    let [acc, next] = this.gradSums;
    for (const a of acc) a.fill(0);
    let loss = 0;
    const metrics: Record<string, number> = {};
    for (const { batch, weight } of parts) {
      const { session, feeds } = await this.batchFeeds(batch, 'grad');
      feeds.grad_scale = scalar(weight);
      const into: Record<string, HostTensor> = {};
      this.groups.forEach((g, i) => {
        feeds[`grad_acc.${g.name}`] = lent(acc[i], [g.size]);
        into[`new_grad_acc.${g.name}`] = lent(next[i], [g.size]);
      });
      const out = await session.run(feeds, into).finally(() => {
        this.adopt(feeds, {});
        this.groups.forEach((g, i) => {
          acc[i] = feeds[`grad_acc.${g.name}`].data as Float32Array;
          next[i] = into[`new_grad_acc.${g.name}`].data as Float32Array;
        });
      });
      [acc, next] = [next, acc];
      loss += weight * Number(out.loss.data[0]);
      for (const [k, v] of Object.entries(metricsOf(out))) metrics[k] = (metrics[k] ?? 0) + weight * v;
    }
    const session = await this.sessions.get('apply', () => this.applyGraph().toBytes());
    const feeds: Record<string, HostTensor> = {};
    this.groups.forEach((g, i) => {
      feeds[`grad_acc.${g.name}`] = lent(acc[i], [g.size]);
    });
    const { sc, into, t } = this.adamw(feeds);
    const out = await session.run(feeds, into).finally(() => {
      this.adopt(feeds, into);
      this.groups.forEach((g, i) => {
        acc[i] = feeds[`grad_acc.${g.name}`].data as Float32Array;
      });
    });
    return this.stepped(t, sc.lr, Number(out.grad_norm.data[0]), loss, metrics);
  }

  /** A batch's bucket session and its feeds: ids, mask, the loss's inputs and every trainable tensor. */
  private async batchFeeds(
    b: TrainBatch,
    mode: 'step' | 'grad',
  ): Promise<{ session: GraphSession; feeds: Record<string, HostTensor> }> {
    checkBatch(b, this.ckpt.config.vocabSize);
    const bucket = this.bucket(b.batch, b.seq, mode, b.at?.count);
    checkExtra(b.extra ?? {}, bucket.lossInputs);
    const feeds: Record<string, HostTensor> = {
      input_ids: { dtype: 'int64', shape: [b.batch, b.seq], data: b.inputIds },
      attention_mask: { dtype: 'int64', shape: [b.batch, b.seq], data: b.attentionMask },
      ...b.extra,
      ...(b.at ? { logprob_index: { dtype: 'int64', shape: [b.batch, b.at.count], data: b.at.index } } : {}),
    };
    for (const [name, shape] of this.shapes()) feeds[name] = lent(this.parameters.get(name)!, shape);
    return { session: await bucket.session, feeds };
  }

  /**
   * Adds the next step's AdamW inputs to `feeds` (scalars, each group's parameters and moments); the outputs'
   * buffers.
   */
  private adamw(feeds: Record<string, HostTensor>): {
    sc: ReturnType<typeof adamwScalars>;
    into: Record<string, HostTensor>;
    t: number;
  } {
    const t = this.stepCount + 1;
    const sc = adamwScalars(this.optimizer, t);
    Object.assign(feeds, { lr: scalar(sc.lr), bc1: scalar(sc.bc1), bc2: scalar(sc.bc2) });
    const into: Record<string, HostTensor> = {};
    for (const g of this.groups) {
      const n = groupNames(g.name);
      const [cur, next] = [this.state.get(g.name)!, this.spare.get(g.name)!];
      Object.assign(feeds, {
        [n.params]: lent(cur.params, [g.size]),
        [n.m]: lent(cur.m, [g.size]),
        [n.v]: lent(cur.v, [g.size]),
      });
      Object.assign(into, {
        [n.newParams]: lent(next.params, [g.size]),
        [n.newM]: lent(next.m, [g.size]),
        [n.newV]: lent(next.v, [g.size]),
      });
    }
    return { sc, into, t };
  }

  /**
   * Takes the state buffers back from a run's feeds and outputs, where a session worker returns them
   * as new arrays over the same memory (lent: moved there and back); run here, they are the same.
   */
  private adopt(feeds: Record<string, HostTensor>, into: Record<string, HostTensor>): void {
    const whole = (t: HostTensor | undefined) => (t ? new Float32Array(t.data.buffer as ArrayBuffer) : undefined);
    for (const g of this.groups) {
      const n = groupNames(g.name);
      const [cur, next] = [this.state.get(g.name)!, this.spare.get(g.name)!];
      // A micro-batch's run reads the parameters only through their views.
      cur.params = whole(feeds[n.params] ?? feeds[g.members[0].name]) ?? cur.params;
      cur.m = whole(feeds[n.m]) ?? cur.m;
      cur.v = whole(feeds[n.v]) ?? cur.v;
      next.params = whole(into[n.newParams]) ?? next.params;
      next.m = whole(into[n.newM]) ?? next.m;
      next.v = whole(into[n.newV]) ?? next.v;
    }
  }

  /** The step's new parameters and moments take over. */
  private stepped(t: number, lr: number, gradNorm: number, loss: number, metrics: Record<string, number>): StepResult {
    [this.state, this.spare] = [this.spare, this.state];
    this.stepCount = t;
    this.version++;
    return { step: t, loss, gradNorm, lr, metrics };
  }

  /** The trainable tensors as a ParamSource, so scoring and generation see the current values. */
  paramSource(): ParamSource {
    const lora = this.lora;
    const shapes = this.shapes();
    return {
      trainable: new Set(lora ? [] : shapes.keys()),
      lora,
      pin: () => ({ owner: this, version: this.version }),
      current: () => new Map([...this.views('params')].map(([n, data]) => [n, { data, shape: shapes.get(n)! }])),
    };
  }

  snapshot(): TrainerSnapshot {
    return { step: this.stepCount, layout: this.layout, state: cloneState(this.state) };
  }

  /**
   * Copies a snapshot back in (it stays valid for further restores); refuses one taken from a trainer of other
   * trainable tensors.
   */
  restore(snap: TrainerSnapshot): void {
    this.checkLayout(snap);
    for (const [name, s] of snap.state) {
      const cur = this.state.get(name)!;
      cur.params.set(s.params);
      cur.m.set(s.m);
      cur.v.set(s.v);
    }
    this.stepCount = snap.step;
    this.version++;
  }

  private checkLayout(snap: TrainerSnapshot): void {
    if (snap.layout !== this.layout) {
      throw new InputError(
        'this snapshot was taken from a trainer of other trainable tensors (full vs LoRA, other targets or rank); ' +
          'restore it into the trainer that took it or one with the same trainable set',
      );
    }
  }

  /**
   * A step part of the way from one snapshot to a later one, for a backtracking line search:
   * parameters from + f (to - from), optimizer moments and step as in `from`.
   */
  interpolate(from: TrainerSnapshot, to: TrainerSnapshot, f: number): void {
    this.restore(from);
    this.checkLayout(to);
    for (const [name, s] of to.state) {
      const cur = this.state.get(name)!.params;
      for (let i = 0; i < cur.length; i++) cur[i] += f * (s.params[i] - cur[i]);
    }
    this.version++;
  }

  /** Writes the trainable tensors, their AdamW moments (`adam_m.`/`adam_v.` + name) and the step as safetensors. */
  save(file: string): void {
    const tensors: Record<string, HostTensor> = {};
    const shapes = this.shapes();
    for (const [prefix, which] of [
      ['', 'params'],
      ['adam_m.', 'm'],
      ['adam_v.', 'v'],
    ] as const) {
      for (const [name, view] of this.views(which)) tensors[prefix + name] = f32(view, shapes.get(name)!);
    }
    tensors[STEP_TENSOR] = { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(this.stepCount)) };
    writeSafetensors(file, tensors, { format: 'sat-peer' });
  }

  /** Loads what `save` wrote (tensors, moments, step); every trainable tensor must be present with the same size. */
  load(file: string): void {
    const header = readSafetensorsHeader(file);
    for (const [prefix, which] of [
      ['', 'params'],
      ['adam_m.', 'm'],
      ['adam_v.', 'v'],
    ] as const) {
      for (const [name, view] of this.views(which)) {
        const info = header.get(prefix + name);
        if (!info)
          throw new ModelFormatError(
            `${file}: missing tensor '${prefix + name}'; was it saved from the same model and trainable set?`,
          );
        const data = toFloat32(readTensor(info));
        if (data.length !== view.length)
          throw new ModelFormatError(
            `${file}: tensor '${prefix + name}' has ${data.length} values, expected ${view.length}`,
          );
        view.set(data);
      }
    }
    const step = header.get(STEP_TENSOR);
    this.stepCount = step ? Number((readTensor(step).data as BigInt64Array)[0]) : 0;
    this.version++;
  }

  async release(): Promise<void> {
    await this.sessions.release();
  }
}
