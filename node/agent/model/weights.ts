// Binds a checkpoint's HF weights into a graph: trainable ones become float32 graph inputs (fed from
// the learner's buffers), frozen ones are initializers whose external data is the tensor's byte range
// inside the .safetensors file (never copied into the ModelProto), cast to float32 in the graph.
import path from 'node:path';
import type { DType, Graph, Shape, Value } from '../../gpu/graph.ts';
import type { HostTensor, Pin } from '../../gpu/ort.ts';
import * as op from '../../gpu/ops.ts';
import type { StDType } from '../../gpu/safetensors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { linear, type Weights } from './qwen3.ts';
import { InputError, ModelFormatError } from '../errors.ts';

const ST_DTYPE: Partial<Record<StDType, DType>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

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
 * The checkpoint's weights in graph `g`: `trainable` ones as float32 inputs, the rest as external
 * initializers; `lora` adds adapter inputs. `input` declares those inputs (a Loop's body reads them
 * from its enclosing graph).
 */
export function bindWeights(
  g: Graph,
  ckpt: Checkpoint,
  trainable: ReadonlySet<string> = new Set(),
  lora?: LoraConfig,
  input: (name: string, dtype: DType, shape: Shape) => Value = (name, dtype, shape) => g.input(name, dtype, shape),
): BoundWeights {
  if (lora) validateLora(ckpt, lora);
  const params = new Map<string, Value>();
  const cache = new Map<string, Value>();
  const get = (name: string): Value => {
    const hit = cache.get(name);
    if (hit) return hit;
    const info = ckpt.tensors.get(name);
    if (!info) throw new ModelFormatError(`${ckpt.dir}: the checkpoint has no tensor '${name}'`);
    let v: Value;
    if (trainable.has(name)) {
      v = input(name, 'float32', info.shape);
      params.set(name, v);
    } else {
      const dtype = ST_DTYPE[info.dtype];
      if (!dtype)
        throw new ModelFormatError(
          `${info.file}: tensor '${name}' has dtype ${info.dtype}; weights must be F32, F16 or BF16`,
        );
      const location = path.relative(ckpt.dir, info.file);
      v = op.cast(
        g.initializer(name, dtype, info.shape, {
          kind: 'external',
          location,
          offset: info.offset,
          length: info.length,
        }),
        'float32',
      );
    }
    cache.set(name, v);
    return v;
  };
  const linearOf = (x: Value, name: string): Value => {
    const y = linear(x, get(name));
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
  // Frozen layers of one input run as one product against their concatenated weights (folded
  // once when the session is built); trainable or adapted ones stay separate.
  const linears = (x: Value, names: string[]): Value[] => {
    if (names.length < 2 || names.some((n) => trainable.has(n) || isLoraTarget(lora, n)))
      return names.map((n) => linearOf(x, n));
    const outs = names.map((n) => ckpt.tensors.get(n)!.shape[0]);
    return op.split(linear(x, op.concat(names.map(get), 0)), outs, -1);
  };
  return { weights: { get, linear: linearOf, linears }, params };
}
