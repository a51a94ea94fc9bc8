// Binds a checkpoint's HF weights into a graph in float32: trainable ones as inputs fed from the learner's buffers;
// frozen ones as inputs the session feeds itself from the checkpoint's files, read once and shared by every session
// of the thread (docs/design §3), or, in a checkpoint of up to 64 MiB, as graph constants.
import { type DType, Graph, numel, type Shape, type Value } from '../../gpu/graph.ts';
import type { HostTensor, Pin } from '../../gpu/ort.ts';
import * as op from '../../gpu/ops.ts';
import { readTensor, type TensorInfo, toFloat32 } from '../../gpu/safetensors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { linear, qwen3Forward, type Weights } from './qwen3.ts';
import { InputError, ModelFormatError } from '../errors.ts';

/** LoRA adapters (Hu et al.): W x + (alpha / rank) B A x on the linear layers named by `targets`. */
export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Module names, e.g. ['q_proj', 'k_proj', 'v_proj', 'o_proj']. */
  targets: string[];
}

/** Trainable tensors held outside the checkpoint (by a Trainer), fed to graphs as inputs. */
export interface ParamSource {
  /** HF weights that are graph inputs (full fine-tuning); empty with LoRA. */
  trainable: ReadonlySet<string>;
  lora?: LoraConfig;
  /** The current values and shapes, by graph input name. */
  current(): ReadonlyMap<string, { data: Float32Array; shape: Shape }>;
  /**
   * Who holds the tensors and the version of their values: the session worker keeps them across runs
   * (HostTensor.pin).
   */
  pin?(): Pin;
}

/** Session feeds for the ParamSource tensors a graph reads (`inputs`: its input names). */
export function paramFeeds(src: ParamSource, inputs: readonly string[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  const pin = src.pin?.();
  for (const [name, t] of src.current())
    if (inputs.includes(name))
      feeds[name] = { dtype: 'float32', shape: t.shape, data: t.data, ...(pin ? { pin } : {}) };
  return feeds;
}

export interface BoundWeights {
  weights: Weights;
  /** The graph inputs created for trainable tensors (weights or adapters), by name. */
  params: Map<string, Value>;
}

/** Adapter tensor names of a linear weight: `x.q_proj.weight` -> `x.q_proj.lora_A.weight`. */
export const loraNames = (weight: string) => ({
  a: weight.replace(/\.weight$/, '.lora_A.weight'),
  b: weight.replace(/\.weight$/, '.lora_B.weight'),
});

/** Module names whose weights run through the linear path and so can carry a LoRA adapter. */
export const LORA_TARGETS: readonly string[] = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
];

/**
 * Refuses (InputError) a LoRA config with a bad rank or alpha, or a target that names no adaptable linear layer of
 * `ckpt`.
 */
export function validateLora(ckpt: Checkpoint, lora: LoraConfig): void {
  const supported = `supported targets: ${LORA_TARGETS.join(', ')}`;
  if (!Number.isSafeInteger(lora.rank) || lora.rank <= 0)
    throw new InputError(`LoRA rank must be a positive integer, got ${JSON.stringify(lora.rank)}`);
  if (typeof lora.alpha !== 'number' || !Number.isFinite(lora.alpha) || lora.alpha <= 0) {
    throw new InputError(`LoRA alpha must be a positive finite number, got ${JSON.stringify(lora.alpha)}`);
  }
  if (!Array.isArray(lora.targets) || lora.targets.length === 0)
    throw new InputError(`LoRA targets must be a non-empty list of module names; ${supported}`);
  for (const target of lora.targets) checkLoraTarget(ckpt, target, supported);
}

/** Whether HF tensor `name` is the weight of module `target` (`x.q_proj.weight` for `q_proj`). */
const isWeightOf = (name: string, target: string): boolean =>
  name === `${target}.weight` || name.endsWith(`.${target}.weight`);

function checkLoraTarget(ckpt: Checkpoint, target: string, supported: string): void {
  if (!LORA_TARGETS.includes(target)) {
    const known = ['lm_head.weight', ...ckpt.tensors.keys()].some((n) => isWeightOf(n, target));
    if (known) throw new InputError(`LoRA target '${target}' is not a linear layer adapters attach to; ${supported}`);
    throw new InputError(`unknown LoRA target ${JSON.stringify(target)}; ${supported}`);
  }
  if (![...ckpt.tensors].some(([n, info]) => isWeightOf(n, target) && info.shape.length === 2)) {
    throw new InputError(`LoRA target '${target}' matches no 2-D linear weight of ${ckpt.dir}; ${supported}`);
  }
}

/** Whether an HF linear weight carries an adapter under `lora`. */
export const isLoraTarget = (lora: LoraConfig | undefined, weight: string): boolean =>
  !!lora && lora.targets.some((t) => weight.endsWith(`.${t}.weight`));

/**
 * Frozen weights up to `constantBytes` float32 bytes in all are constants of each graph: packed once per session,
 * which at this size costs nothing and runs small matrices fastest. Tests lower it to run a small checkpoint the way
 * a large one runs.
 */
export const weightPlacement = { constantBytes: 64 * 2 ** 20 };

/**
 * Whether the checkpoint's frozen weights (all but `trainable`; with none given, all of them) are small enough to be
 * graph constants.
 */
export function frozenAsConstants(ckpt: Checkpoint, trainable: ReadonlySet<string> = new Set()): boolean {
  let bytes = 0;
  for (const [name, info] of ckpt.tensors) if (!trainable.has(name)) bytes += 4 * numel(info.shape);
  return bytes <= weightPlacement.constantBytes;
}

const readByModel = new WeakMap<Checkpoint, ReadonlySet<string>>();
/** The checkpoint tensors the Qwen3 graph reads: not extras such as rotary inv_freq buffers, nor a tied lm_head. */
export function modelTensorNames(ckpt: Checkpoint): ReadonlySet<string> {
  let names = readByModel.get(ckpt);
  if (!names) {
    const g = new Graph('probe');
    const ids = g.input('input_ids', 'int64', [1, 1]);
    const { weights, params } = bindWeights(g, ckpt, new Set(ckpt.tensors.keys()));
    qwen3Forward(ckpt.config, weights, { ids, positions: ids, keyMask: op.cast(ids, 'bool'), maxPosition: 1 });
    names = new Set(params.keys());
    readByModel.set(ckpt, names);
  }
  return names;
}

/**
 * The tensors the model reads that a session feeds itself from the checkpoint's files, by name: every one not in
 * `trainable`, unless they are small enough to be graph constants. A session reads them as float32 once, shared with
 * every other session of the thread (gpu/file-tensors.ts).
 */
export function frozenInputs(ckpt: Checkpoint, trainable: ReadonlySet<string> = new Set()): Record<string, TensorInfo> {
  const frozen: Record<string, TensorInfo> = {};
  if (frozenAsConstants(ckpt, trainable)) return frozen;
  for (const name of modelTensorNames(ckpt)) if (!trainable.has(name)) frozen[name] = ckpt.tensors.get(name)!;
  return frozen;
}

/** float32 bytes of small frozen tensors, read once per tensor. */
const constantBytes = new WeakMap<TensorInfo, Uint8Array>();
function constantOf(info: TensorInfo): Uint8Array {
  let bytes = constantBytes.get(info);
  if (!bytes) {
    const data = toFloat32(readTensor(info));
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    constantBytes.set(info, bytes);
  }
  return bytes;
}

/**
 * The checkpoint's weights in graph `g`, in float32: `trainable` ones are inputs fed by the learner; frozen ones are
 * inputs the session feeds from the checkpoint's files (frozenInputs), or, in a small checkpoint, constants of the
 * graph. `lora` adds adapter inputs. `input` declares the inputs (a Loop's body reads them from its enclosing graph).
 */
export function bindWeights(
  g: Graph,
  ckpt: Checkpoint,
  trainable: ReadonlySet<string> = new Set(),
  lora?: LoraConfig,
  input: (name: string, dtype: DType, shape: Shape) => Value = (name, dtype, shape) => g.input(name, dtype, shape),
): BoundWeights {
  if (lora) validateLora(ckpt, lora);
  const constants = frozenAsConstants(ckpt, trainable);
  const params = new Map<string, Value>();
  const bound = new Map<string, Value>();
  const get = (name: string): Value => {
    const hit = bound.get(name);
    if (hit) return hit;
    const info = ckpt.tensors.get(name);
    if (!info) throw new ModelFormatError(`${ckpt.dir}: the checkpoint has no tensor '${name}'`);
    const frozen = !trainable.has(name);
    const v =
      frozen && constants
        ? g.initializer(name, 'float32', info.shape, constantOf(info))
        : input(name, 'float32', info.shape);
    if (!frozen) params.set(name, v);
    bound.set(name, v);
    return v;
  };
  // A constant weight is packed once per session and read as x W^T; an input one is streamed as it lies (linear).
  const product = (x: Value, w: Value, constant: boolean): Value => {
    if (!constant) return linear(x, w);
    const lead = x.shape.slice(0, -1);
    const rows = op.reshape(x, [numel(lead), w.shape[1]]);
    return op.reshape(op.gemm(rows, w, { transB: true }), [...lead, w.shape[0]]);
  };
  const linearOf = (x: Value, name: string): Value => {
    const y = product(x, get(name), constants && !trainable.has(name));
    if (!isLoraTarget(lora, name)) return y;
    const [out, inp] = ckpt.tensors.get(name)!.shape;
    const n = loraNames(name);
    const a = input(n.a, 'float32', [lora!.rank, inp]);
    const b = input(n.b, 'float32', [out, lora!.rank]);
    params.set(n.a, a);
    params.set(n.b, b);
    const delta = linear(linear(x, a), b);
    return op.add(y, op.mul(delta, op.scalarLike(delta, lora!.alpha / lora!.rank)));
  };
  // Constant layers of one input run as one product against their weights joined.
  const linears = (x: Value, names: string[]): Value[] => {
    if (!constants || names.some((n) => trainable.has(n) || isLoraTarget(lora, n)))
      return names.map((n) => linearOf(x, n));
    const infos = names.map((n) => ckpt.tensors.get(n)!);
    const outs = infos.map((i) => i.shape[0]);
    const joined = g.initializer(
      names.join('+'),
      'float32',
      [outs.reduce((a, b) => a + b), infos[0].shape[1]],
      Buffer.concat(infos.map(constantOf)),
    );
    return op.split(product(x, joined, true), outs, -1);
  };
  return { weights: { get, linear: linearOf, linears }, params };
}
