// How much memory an agent needs for a team's stage on this machine, estimated from its model's shape
// and the stage's batch, so a peer that cannot run its model says so before it joins, not hours into
// a run. A stage scores and trains on all of its rollouts at once, so the activations of
// every rollout's tokens are live together: each layer's values saved for the backward pass, and
// the logits over the vocabulary at the agent's own tokens (the head runs there only).
import { DeviceError } from '../gpu/errors.ts';
import { type Checkpoint, parameterCount, type Qwen3Config } from './model/checkpoint.ts';

/** Bytes, by what needs them. */
export interface MemoryNeed {
  weights: number;
  /**
   * Gradients, AdamW moments, the learner's double buffers and the worker's copy of the weights (full fine-tuning;
   * LoRA's are small).
   */
  optimizer: number;
  activations: number;
  /** onnxruntime, its sessions and Node, measured on the embedded demo's peers. */
  runtime: number;
  total: number;
}

/**
 * The bytes a layer keeps per token until the backward pass: values saved for it, gradients flowing back and
 * onnxruntime's buffers. A least-squares-free fit, exact at three measured LoRA train steps (`npm run bench:memory`,
 * docs/benchmarks.md): Qwen3-0.6B's shape at 256 and 512 tokens and 1.7B's at 256; it then predicted 1.7B at 512
 * tokens within 2%. 16.2 bytes per unit of hidden plus intermediate width, 12 per unit of the q, k and v widths,
 * and 6.5 per query head per key attended (s the sequence length).
 */
function layerBytes(c: Qwen3Config, s: number): number {
  return (
    16.2 * (c.hiddenSize + c.intermediateSize) + 12 * (c.numHeads + 2 * c.numKvHeads) * c.headDim + 6.5 * c.numHeads * s
  );
}
/** Per own token, each logit's bytes: the logits, their log-softmax and its gradient in float32 (measured 12.3). */
const HEAD_BYTES = 12.3;
const RUNTIME_BYTES = 0.4 * 2 ** 30;
const F32 = 4;

/**
 * The memory a peer's agent needs for a stage of `rows` rollouts of up to `tokens` tokens each, of
 * which up to `own` are the agent's (default all).
 */
export function memoryNeed(
  ckpt: Checkpoint,
  o: { lora: boolean; rows: number; tokens: number; own?: number; incumbent?: Checkpoint },
): MemoryNeed {
  const c = ckpt.config;
  const params = parameterCount(ckpt);
  // Computed in float32 whatever the checkpoint's dtype; a newcomer holds the incumbent it enters beside too.
  const weights = (params + (o.incumbent ? parameterCount(o.incumbent) : 0)) * F32;
  // Gradients (4 B), moments m and v (8 B), the spare copy of parameters and moments (12 B), and the
  // session worker's copy of the parameters that generation and scoring read (4 B, ort.ts `pin`).
  const optimizer = o.lora ? 0 : params * 28;
  // Each layer's at every token, and at the agent's own the logits with their log-softmax and gradient.
  const perRow =
    o.tokens * c.numLayers * layerBytes(c, o.tokens) + Math.min(o.own ?? o.tokens, o.tokens) * HEAD_BYTES * c.vocabSize;
  const activations = o.rows * perRow;
  const total = weights + optimizer + activations + RUNTIME_BYTES;
  return { weights, optimizer, activations, runtime: RUNTIME_BYTES, total };
}

/**
 * The most rows of the stage (up to `rows`) whose activations fit in `available` bytes beside the
 * model: the micro-batch to score and train in. Refuses (DeviceError) when not even one row fits.
 */
export function microBatchFor(ckpt: Checkpoint, o: Planned & { incumbent?: Checkpoint }, available: number): number {
  const fits = (rows: number) => memoryNeed(ckpt, { ...o, rows }).total <= available;
  if (!fits(1)) checkMemory(memoryNeed(ckpt, { ...o, rows: 1 }), available, { ...o, rows: 1 });
  let [lo, hi] = [1, o.rows]; // fits(lo); the answer lies in [lo, hi]
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * What a plan is for: the model, whether it trains LoRA adapters, the stage's rows and their tokens, and on which
 * device.
 */
export interface Planned {
  model: string;
  lora: boolean;
  rows: number;
  tokens: number;
  /** Of those, the most a row holds of the agent's own (its turn), where the head runs. */
  own?: number;
  gpu?: boolean;
  /** The memory planned with was given (start --memory), not read from the device. */
  given?: boolean;
}

const FULL_FINE_TUNING = ' (this team fine-tunes every weight; one that trains LoRA adapters needs far less)';

const gib = (bytes: number) => (bytes / 2 ** 30 >= 10 ? (bytes / 2 ** 30).toFixed(0) : (bytes / 2 ** 30).toFixed(1));

/** Refuses, in one line that says what to change, a need beyond what is available. */
export function checkMemory(need: MemoryNeed, available: number, o: Planned & { incumbent?: Checkpoint }): void {
  if (need.total <= available) return;
  const parts = [
    `weights ${gib(need.weights)} GiB${o.incumbent ? " with the incumbent's it enters beside" : ''}`,
    ...(need.optimizer ? [`optimizer ${gib(need.optimizer)} GiB`] : []),
    `activations of ${o.rows} rollouts x ${o.tokens} tokens ${gib(need.activations)} GiB`,
  ];
  const model = need.weights + need.optimizer;
  const remedy =
    need.activations > model
      ? 'join a team with a smaller batch (data.train_batch_size x sat.group_size rollouts a stage), or a machine with more memory'
      : `use a smaller model${o.lora ? '' : FULL_FINE_TUNING}, or a machine with more memory`;
  const has = o.given
    ? `--memory gives it ${gib(available)} GiB`
    : `${o.gpu ? 'the GPU' : 'this machine'} has ${gib(available)} GiB available`;
  throw new DeviceError(
    `${o.model} needs about ${gib(need.total)} GiB to take part in this team's stages on the ` +
      `${o.gpu ? 'GPU' : 'CPU'} (${parts.join(', ')}), and ${has}: ` +
      `${remedy}${o.given ? ' (or a larger --memory)' : ''}`,
  );
}
