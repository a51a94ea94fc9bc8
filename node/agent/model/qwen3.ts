// The Qwen3 causal LM as an ONNX graph, block by block as in transformers' modeling_qwen3.py:
// embed -> N x (RMSNorm -> attention with q/k-norm and RoPE -> residual -> RMSNorm -> SwiGLU -> residual)
// -> RMSNorm -> lm_head. HF tensor names are used for every weight.
import { numel, type Value } from '../../gpu/graph.ts';
import type { Device } from '../../gpu/ort.ts';
import * as op from '../../gpu/ops.ts';
import type { Qwen3Config } from './checkpoint.ts';
import { type Rope, ropeFor } from './rope.ts';

/** The model's weights by HF name: a tensor, or a linear layer (LoRA adapters hook in there). */
export interface Weights {
  get(name: string): Value;
  /** x @ W^T for the linear layer whose weight is `name` (plus its adapter, if any). */
  linear(x: Value, name: string): Value;
  /** Several linear layers of the same input (the implementation may run them as one product). */
  linears(x: Value, names: string[]): Value[];
}

export interface KV {
  k: Value;
  v: Value;
}

export interface ForwardInputs {
  /** Token ids [B, T], int64. */
  ids: Value;
  /** Absolute positions [B, T], int64 (RoPE). */
  positions: Value;
  /** Which keys may be attended [B, P + T], bool: past slots then the T new tokens. */
  keyMask: Value;
  /** Per layer, cached keys/values [B, kvHeads, P, headDim] of earlier tokens. */
  past?: KV[];
  /**
   * The keys/values a layer attends over, from its `past` and the new tokens' (default: the two
   * joined, P + T of them). A cache with a slot kept for the new token can write it there instead
   * (then `keyMask` covers those P slots).
   */
  attendOver?: (layer: number, past: KV, now: KV) => KV;
  /** Largest position + 1 the RoPE tables must cover. */
  maxPosition: number;
  /**
   * When given ([B] or [B, P] int64), logits only at these positions, [B, 1 or P, vocab]: a prefill needs no others.
   */
  last?: Value;
  /**
   * Attention written out as MatMul, Softmax and MatMul instead of the Attention op. For the CUDA
   * EP: its Attention kernel in onnxruntime 1.30 has no softmax-probabilities output, which the
   * gradient reads, and took float32 grouped queries only recently.
   */
  writtenOutAttention?: boolean;
}

export interface ForwardOutputs {
  /** Logits [B, T, vocab] ([B, 1 or P, vocab] with `last`). */
  logits: Value;
  /** The final RMSNorm's output [B, T, hidden] that the head reads (a value head reads it too). */
  hidden: Value;
  /** Per layer, keys/values [B, kvHeads, T, headDim] of the T new tokens (to extend a cache). */
  present: KV[];
}

/**
 * x [B, T, ...] at one position per row, `index` [B] int64: [B, 1, ...]; or at P per row, `index` [B, P]: [B, P,
 * ...].
 */
export function atPositions(x: Value, index: Value): Value {
  const [b, , ...rest] = x.shape;
  const p = index.shape[1] ?? 1;
  return op.gatherElements(x, op.expand(op.reshape(index, [b, p, ...rest.map(() => 1)]), [b, p, ...rest]), 1);
}

/** Whether graphs for sessions on `device` write attention out (ForwardInputs.writtenOutAttention). */
export const writesAttentionOut = (device?: Device) => device === 'cuda';

/** RMSNorm: weight * x / sqrt(mean(x^2) + eps) over the last axis. */
const rmsNorm = (x: Value, weight: Value, eps: number) => op.rmsNormalization(x, weight, eps);

/**
 * x @ W^T for an HF linear weight W [out, in], computed as (W x^T)^T: onnxruntime's CPU kernels then stream W's rows
 * as they lie, at one row of x as fast as memory allows, where x @ W^T would copy W into a packed layout each run
 * (docs/design §3).
 */
export function linear(x: Value, w: Value): Value {
  const [out, inp] = w.shape;
  const lead = x.shape.slice(0, -1);
  const xT = op.transpose(op.reshape(x, [numel(lead), inp]), [1, 0]);
  return op.reshape(op.transpose(op.matmul(w, xT), [1, 0]), [...lead, out]);
}

/** Attention mask [B, 1, T, P+T]: true where a query may see a key (causal and not masked out). */
function attentionMask(keyMask: Value, t: number): Value {
  const [b, s] = keyMask.shape;
  const g = keyMask.graph;
  const q = op.unsqueeze(op.add(op.range(keyMask, t), g.scalar('int64', s - t)), [1]);
  const k = op.unsqueeze(op.range(keyMask, s), [0]);
  return op.and(op.lessOrEqual(k, q), op.reshape(keyMask, [b, 1, 1, s]));
}

/** Attention over queries [B, H, T, D] and keys/values [B, Hkv, S, D] (H a multiple of Hkv); the mask is bound in. */
type Attend = (q: Value, k: Value, v: Value, scale: number) => Value;

/**
 * Attention as MatMul, Softmax and MatMul, `mask` [B, 1, T, S] made a bias once for every layer.
 * Queries are viewed as [B, Hkv, group, T, D] so that keys and values broadcast over the group.
 */
function writtenOut(mask: Value): Attend {
  const [b, , t, s] = mask.shape;
  const g = mask.graph;
  // The lowest float, not -inf: a query that may see no key (a pad) gets even weights, not NaN.
  const bias = op.reshape(op.where(mask, g.scalar('float32', 0), g.scalar('float32', -3.4028234663852886e38)), [
    b,
    1,
    1,
    t,
    s,
  ]);
  return (q, k, v, scale) => {
    const [, h, , d] = q.shape;
    const hk = k.shape[1];
    const [k5, v5] = [k, v].map((x) => op.reshape(x, [b, hk, 1, s, d]));
    const scores = op.add(
      op.mul(op.matmul(op.reshape(q, [b, hk, h / hk, t, d]), op.transposeLast(k5)), op.scalarLike(q, scale)),
      bias,
    );
    return op.reshape(op.matmul(op.softmax(scores, -1), v5), [b, h, t, d]);
  };
}

/** Grouped-query self-attention with q/k RMSNorm before RoPE. */
function attention(
  cfg: Qwen3Config,
  w: Weights,
  pre: string,
  x: Value,
  rope: Rope,
  attend: Attend,
  past?: KV,
  attendOver?: (past: KV, now: KV) => KV,
): { out: Value; kv: KV } {
  const [b, t] = x.shape;
  const { numHeads: nh, numKvHeads: nkv, headDim: d } = cfg;
  // [B, T, n*D] -> [B, T, n, D] (q/k-norm over D) -> [B, n, T, D] -> rotated
  const split = (y: Value, n: number) => op.reshape(y, [b, t, n, d]);
  const heads = (y: Value) => op.transpose(y, [0, 2, 1, 3]);
  const [qp, kp, vp] = w.linears(
    x,
    ['q', 'k', 'v'].map((p) => `${pre}.${p}_proj.weight`),
  );
  const normed = (y: Value, n: number, norm: string) =>
    rmsNorm(split(y, n), w.get(`${pre}.${norm}.weight`), cfg.rmsNormEps);
  const q = rope(heads(normed(qp, nh, 'q_norm')));
  const k = rope(heads(normed(kp, nkv, 'k_norm')));
  const v = heads(split(vp, nkv));
  const all = !past
    ? { k, v }
    : attendOver
      ? attendOver(past, { k, v })
      : { k: op.concat([past.k, k], 2), v: op.concat([past.v, v], 2) };
  // Query head h reads KV head h // (nh / nkv); scores scaled by head_dim^-0.5.
  const ctx = attend(q, all.k, all.v, 1 / Math.sqrt(d));
  const merged = op.reshape(op.transpose(ctx, [0, 2, 1, 3]), [b, t, nh * d]);
  return { out: w.linear(merged, `${pre}.o_proj.weight`), kv: { k, v } };
}

/** SwiGLU MLP: down(silu(gate(x)) * up(x)). */
function mlp(w: Weights, pre: string, x: Value): Value {
  const [gate, up] = w.linears(x, [`${pre}.gate_proj.weight`, `${pre}.up_proj.weight`]);
  return w.linear(op.mul(op.silu(gate), up), `${pre}.down_proj.weight`);
}

export function qwen3Forward(cfg: Qwen3Config, w: Weights, inp: ForwardInputs): ForwardOutputs {
  const { ids, positions, keyMask } = inp;
  const t = ids.shape[1];
  let h = op.gather(w.get('model.embed_tokens.weight'), ids, 0);
  const rope = ropeFor(h, cfg, positions, inp.maxPosition);
  const mask = attentionMask(keyMask, t);
  const attend: Attend = inp.writtenOutAttention
    ? writtenOut(mask)
    : (q, k, v, scale) => op.attention(q, k, v, mask, scale);
  const present: KV[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    const pre = `model.layers.${l}`;
    const attn = attention(
      cfg,
      w,
      `${pre}.self_attn`,
      rmsNorm(h, w.get(`${pre}.input_layernorm.weight`), cfg.rmsNormEps),
      rope,
      attend,
      inp.past?.[l],
      inp.attendOver && ((p, now) => inp.attendOver!(l, p, now)),
    );
    present.push(attn.kv);
    h = op.add(h, attn.out);
    h = op.add(h, mlp(w, `${pre}.mlp`, rmsNorm(h, w.get(`${pre}.post_attention_layernorm.weight`), cfg.rmsNormEps)));
  }
  if (inp.last) h = atPositions(h, inp.last);
  h = rmsNorm(h, w.get('model.norm.weight'), cfg.rmsNormEps);
  const head = cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  return { logits: w.linear(h, head), hidden: h, present };
}
