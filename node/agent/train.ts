// Gradient steps on a Qwen3 checkpoint: forward + the caller's loss + autodiff backward + AdamW, all in
// one onnxruntime graph per (batch, seq) bucket. Parameters and moments live in float32 buffers on the
// host, go in as inputs and come back into a second set of buffers (swapped every step).
import { type DType, Graph, type Shape, type Value } from '../gpu/graph.ts';
import { gradients } from '../gpu/autodiff.ts';
import * as op from '../gpu/ops.ts';
import { ADAMW_DEFAULTS, type AdamWConfig, adamwScalars, adamwUpdate, stateNames } from '../gpu/adamw.ts';
import { type HostTensor, Session, type SessionOptions } from '../gpu/ort.ts';
import { readTensor, toFloat32, writeSafetensors, readSafetensorsHeader } from '../gpu/safetensors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { ModelFormatError } from './errors.ts';
import { qwen3Forward } from './qwen3.ts';
import { defaultPositions, tokenLogprobs } from './score.ts';
import { type LoraConfig, type ParamSource, bindWeights, isLoraTarget, loraNames } from './weights.ts';
import { rng } from './random.ts';

/** What a loss sees: the batch, the model's outputs, and a way to declare extra per-batch inputs. */
export interface LossContext {
  graph: Graph;
  /** [B, T] int64 token ids and the 1/0 attention mask. */
  ids: Value;
  attentionMask: Value;
  /** [B, T, vocab] logits and [B, T-1] next-token log-probs. */
  logits: Value;
  tokenLogprobs: Value;
  /** Declares an input the caller feeds at every step under `name` (advantages, weights, scalars). */
  input(name: string, dtype: DType, shape: Shape): Value;
}

/** A loss: a scalar, optionally with scalar metrics to report. */
export type LossFn = (ctx: LossContext) => Value | { loss: Value; metrics: Record<string, Value> };

export type Trainable = { kind: 'full' } | { kind: 'lora'; lora: LoraConfig };

export interface TrainerOptions {
  loss: LossFn;
  trainable?: Trainable;
  optimizer?: Partial<AdamWConfig>;
  session?: SessionOptions;
  /** Seed of the LoRA A initialisation. */
  seed?: number;
}

export interface TrainBatch {
  batch: number;
  seq: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** Tensors for the inputs the loss declared. */
  extra?: Record<string, HostTensor>;
}

export interface StepResult { step: number; loss: number; gradNorm: number; lr: number; metrics: Record<string, number> }

type Buffers = Map<string, Float32Array>;
interface State { params: Buffers; m: Buffers; v: Buffers }

/** A copy of everything a step changes, for the learner's backtracking. */
export interface TrainerSnapshot { step: number; state: State }

const clone = (b: Buffers): Buffers => new Map([...b].map(([k, x]) => [k, x.slice()]));
const zerosLike = (b: Buffers): Buffers => new Map([...b].map(([k, x]) => [k, new Float32Array(x.length)]));
const f32 = (data: Float32Array, shape: Shape): HostTensor => ({ dtype: 'float32', shape, data });
const scalar = (x: number): HostTensor => f32(Float32Array.of(x), []);

export class Trainer {
  private state: State;
  private spare: State;
  private stepCount = 0;
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly shapes = new Map<string, Shape>();
  readonly optimizer: AdamWConfig;

  private constructor(readonly ckpt: Checkpoint, private readonly opts: TrainerOptions, params: Buffers) {
    this.optimizer = { ...ADAMW_DEFAULTS, ...opts.optimizer };
    this.state = { params, m: zerosLike(params), v: zerosLike(params) };
    this.spare = { params: zerosLike(params), m: zerosLike(params), v: zerosLike(params) };
  }

  static create(ckpt: Checkpoint, opts: TrainerOptions): Trainer {
    const trainable = opts.trainable ?? { kind: 'full' };
    const params: Buffers = new Map();
    if (trainable.kind === 'full') {
      for (const [name, info] of ckpt.tensors) params.set(name, toFloat32(readTensor(info)));
    } else {
      const next = rng(opts.seed ?? 0);
      for (const [name, info] of ckpt.tensors) {
        if (!isLoraTarget(trainable.lora, name)) continue;
        const [out, inp] = info.shape;
        const n = loraNames(name);
        const bound = 1 / Math.sqrt(inp);
        params.set(n.a, Float32Array.from({ length: trainable.lora.rank * inp }, () => (next() * 2 - 1) * bound));
        params.set(n.b, new Float32Array(out * trainable.lora.rank));
      }
      if (params.size === 0) throw new ModelFormatError(`LoRA targets ${trainable.lora.targets.join(', ')} match no linear layer of ${ckpt.dir}`);
    }
    return new Trainer(ckpt, opts, params);
  }

  get step(): number { return this.stepCount; }

  /** The current trainable tensors by name (weights for full fine-tuning, adapters for LoRA). */
  get parameters(): ReadonlyMap<string, Float32Array> { return this.state.params; }

  get lora(): LoraConfig | undefined {
    const t = this.opts.trainable;
    return t?.kind === 'lora' ? t.lora : undefined;
  }

  /** The step graph for one shape bucket (exposed for inspection and benchmarks). */
  buildGraph(batch: number, seq: number): Graph {
    const g = new Graph('train_step');
    const ids = g.input('input_ids', 'int64', [batch, seq]);
    const attentionMask = g.input('attention_mask', 'int64', [batch, seq]);
    const trainable = new Set(this.lora ? [] : this.state.params.keys());
    const { weights, params } = bindWeights(g, this.ckpt, trainable, this.lora);
    const keyMask = op.cast(attentionMask, 'bool');
    const { logits } = qwen3Forward(this.ckpt.config, weights, { ids, positions: defaultPositions(ids), keyMask, maxPosition: seq });
    const out = this.opts.loss({
      graph: g, ids, attentionMask, logits, tokenLogprobs: tokenLogprobs(logits, ids),
      input: (name, dtype, shape) => g.input(name, dtype, shape),
    });
    const { loss, metrics } = 'loss' in out ? out : { loss: out, metrics: {} };
    g.output(loss, 'loss');
    for (const [k, v] of Object.entries(metrics)) g.output(v, `metric.${k}`);
    const names = [...params.keys()];
    const grads = gradients(loss, names.map((n) => params.get(n)!));
    adamwUpdate(g, params, new Map(names.map((n, i) => [n, grads[i]])), this.optimizer);
    for (const [name, p] of params) this.shapes.set(name, p.shape);
    return g;
  }

  private session(batch: number, seq: number): Promise<Session> {
    const key = `${batch}x${seq}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = Session.create(this.buildGraph(batch, seq).toBytes(), { ...this.opts.session, externalDataDir: this.ckpt.dir });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** One optimizer step on a batch. */
  async trainStep(b: TrainBatch): Promise<StepResult> {
    const session = await this.session(b.batch, b.seq);
    const t = this.stepCount + 1;
    const sc = adamwScalars(this.optimizer, t);
    const feeds: Record<string, HostTensor> = {
      input_ids: { dtype: 'int64', shape: [b.batch, b.seq], data: b.inputIds },
      attention_mask: { dtype: 'int64', shape: [b.batch, b.seq], data: b.attentionMask },
      lr: scalar(sc.lr), bc1: scalar(sc.bc1), bc2: scalar(sc.bc2),
      ...b.extra,
    };
    const into: Record<string, HostTensor> = {};
    for (const [name, p] of this.state.params) {
      const shape = this.shapes.get(name)!;
      const n = stateNames(name);
      feeds[name] = f32(p, shape);
      feeds[n.m] = f32(this.state.m.get(name)!, shape);
      feeds[n.v] = f32(this.state.v.get(name)!, shape);
      into[n.newParam] = f32(this.spare.params.get(name)!, shape);
      into[n.newM] = f32(this.spare.m.get(name)!, shape);
      into[n.newV] = f32(this.spare.v.get(name)!, shape);
    }
    const out = await session.run(feeds, into);
    [this.state, this.spare] = [this.spare, this.state];
    this.stepCount = t;
    const metrics: Record<string, number> = {};
    for (const k of Object.keys(out)) if (k.startsWith('metric.')) metrics[k.slice(7)] = Number(out[k].data[0]);
    return { step: t, loss: Number(out.loss.data[0]), gradNorm: Number(out.grad_norm.data[0]), lr: sc.lr, metrics };
  }

  /** The trainable tensors as a ParamSource, so scoring and generation see the current values. */
  paramSource(): ParamSource {
    const lora = this.lora;
    return {
      trainable: new Set(lora ? [] : this.state.params.keys()),
      lora,
      current: () => new Map([...this.state.params].map(([n, data]) => [n, { data, shape: this.shapeOf(n) }])),
    };
  }

  snapshot(): TrainerSnapshot {
    const s = this.state;
    return { step: this.stepCount, state: { params: clone(s.params), m: clone(s.m), v: clone(s.v) } };
  }

  restore(snap: TrainerSnapshot): void {
    for (const key of ['params', 'm', 'v'] as const) {
      for (const [name, x] of snap.state[key]) this.state[key].get(name)!.set(x);
    }
    this.stepCount = snap.step;
  }

  /** Writes the trainable tensors (and optimizer moments under `adam_m.`/`adam_v.`) as safetensors. */
  save(file: string): void {
    const tensors: Record<string, HostTensor> = {};
    for (const [name, p] of this.state.params) {
      const shape = this.shapeOf(name);
      const n = stateNames(name);
      tensors[name] = f32(p, shape);
      tensors[n.m] = f32(this.state.m.get(name)!, shape);
      tensors[n.v] = f32(this.state.v.get(name)!, shape);
    }
    writeSafetensors(file, tensors, { format: 'sat-peer', step: String(this.stepCount) });
  }

  /** Loads what `save` wrote; every trainable tensor must be present with the same size. */
  load(file: string): void {
    const header = readSafetensorsHeader(file);
    for (const key of ['params', 'm', 'v'] as const) {
      for (const [name, buf] of this.state[key]) {
        const stored = key === 'params' ? name : key === 'm' ? stateNames(name).m : stateNames(name).v;
        const info = header.get(stored);
        if (!info) throw new ModelFormatError(`${file}: missing tensor '${stored}'`);
        const data = toFloat32(readTensor(info));
        if (data.length !== buf.length) throw new ModelFormatError(`${file}: tensor '${stored}' has ${data.length} values, expected ${buf.length}`);
        buf.set(data);
      }
    }
  }

  private shapeOf(name: string): Shape {
    const known = this.shapes.get(name);
    if (known) return known;
    const info = this.ckpt.tensors.get(name);
    if (info) return info.shape;
    const base = this.ckpt.tensors.get(name.replace(/\.lora_[AB]\.weight$/, '.weight'))!.shape;
    return name.includes('lora_A') ? [this.lora!.rank, base[1]] : [base[0], this.lora!.rank];
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
