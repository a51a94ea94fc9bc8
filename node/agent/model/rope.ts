// Rotary position embedding (HF default RoPE): inv_freq[i] = 1 / theta^(2i/d), with the angles and
// cos/sin rounded to float32 as transformers computes them; applied by the RotaryEmbedding op.
import type { Value } from '../../gpu/graph.ts';
import * as op from '../../gpu/ops.ts';

const f = Math.fround;

/** cos and sin caches [positions, headDim/2], flat, float32-rounded. */
export function ropeCaches(theta: number, headDim: number, positions: number): { cos: number[]; sin: number[] } {
  const half = headDim / 2;
  const invFreq = Array.from({ length: half }, (_, i) => f(1 / f(theta ** f(f(2 * i) / headDim))));
  const cos: number[] = [];
  const sin: number[] = [];
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = f(p * invFreq[j]);
      cos.push(f(Math.cos(angle)));
      sin.push(f(Math.sin(angle)));
    }
  }
  return { cos, sin };
}

/** Rotates x [B, heads, T, headDim] to its positions. */
export type Rope = (x: Value) => Value;

/** RoPE at `positions` [B, T] (all below `maxPosition`), caches in the dtype of `like`. */
export function ropeFor(
  like: Value,
  cfg: { ropeTheta: number; headDim: number },
  positions: Value,
  maxPosition: number,
): Rope {
  const { cos, sin } = ropeCaches(cfg.ropeTheta, cfg.headDim, maxPosition);
  const shape = [maxPosition, cfg.headDim / 2];
  const cosV = like.graph.constant(like.dtype, shape, cos);
  const sinV = like.graph.constant(like.dtype, shape, sin);
  return (x) => op.rotaryEmbedding(x, cosV, sinV, positions);
}
