// Choosing the next token inside the graph (no JavaScript loop over the vocabulary): greedy argmax, or
// temperature + top-k + top-p sampling by inverse CDF with one uniform number per row fed from a
// seeded generator. Also returns the log-prob of the chosen token under softmax(logits / temperature)
// (no top-k/top-p truncation; the raw model when greedy) — the log-prob RL importance ratios need,
// equal to teacher-forced scoring at the same temperature.
import type { Graph, Value } from '../../gpu/graph.ts';
import * as op from '../../gpu/ops.ts';

export interface SamplingConfig {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = all). */
  topP: number;
}

export const GREEDY: SamplingConfig = { temperature: 0, topK: 0, topP: 1 };

/** Sampling from the whole distribution needs no sort: no top-k, and top-p 1. */
const untruncated = (s: SamplingConfig) => s.topK === 0 && s.topP >= 1;

/** Part of a graph's cache key: greedy graphs, untruncated sampling and each top-k differ in structure. */
export const samplerKey = (s: SamplingConfig) =>
  s.temperature === 0 ? 'greedy' : untruncated(s) ? 'full' : `k${s.topK}`;

/** What sampling reads besides the logits: temperature [], top-p [] and one uniform number per row [B]. */
export interface SamplingInputs {
  temperature: Value;
  topP: Value;
  uniform: Value;
}

/** Declares the sampling inputs as graph inputs `temperature`, `top_p` and `uniform`. */
function samplingInputs(g: Graph, b: number): SamplingInputs {
  return {
    temperature: g.input('temperature', 'float32', []),
    topP: g.input('top_p', 'float32', []),
    uniform: g.input('uniform', 'float32', [b]),
  };
}

/**
 * From logits [B, V], the chosen token [B] int64 and its log-prob [B]. Sampling reads `inputs`
 * (declared as the graph's inputs when not given); greedy reads none.
 */
export function sampleNext(
  logits: Value,
  s: SamplingConfig,
  inputs?: SamplingInputs,
): { token: Value; logprob: Value } {
  const [b, vocab] = logits.shape;
  let token: Value;
  // The policy the token is drawn from: softmax(logits / temperature) (the raw model when greedy).
  let policy = logits;
  if (s.temperature === 0) {
    token = op.argMax(logits, 1, true);
  } else {
    const { temperature, topP, uniform } = inputs ?? samplingInputs(logits.graph, b);
    const u = op.unsqueeze(uniform, [1]);
    policy = op.div(logits, op.cast(temperature, logits.dtype));
    if (untruncated(s)) {
      // Inverse CDF over the vocabulary in id order (no sort): the first id whose cumulative mass exceeds u.
      const cdf = op.cumSum(op.softmax(policy, -1), 1);
      token = op.argMax(op.cast(op.greater(cdf, op.cast(u, cdf.dtype)), 'float32'), 1, true);
    } else {
      const k = s.topK > 0 ? Math.min(s.topK, vocab) : vocab;
      const [vals, idx] = op.topK(policy, k);
      const probs = op.softmax(vals, -1);
      // Top-p: keep a token while the mass before it is below p (the first one always stays).
      const before = op.sub(op.cumSum(probs, 1), probs);
      const kept = op.where(op.less(before, op.cast(topP, probs.dtype)), probs, op.scalarLike(probs, 0));
      const cdf = op.cumSum(kept, 1);
      const total = op.slice(cdf, [k - 1], [k], [1]);
      const threshold = op.mul(op.cast(u, probs.dtype), total);
      // The first position whose cumulative mass exceeds the threshold.
      const pick = op.argMax(op.cast(op.greater(cdf, threshold), 'float32'), 1, true);
      token = op.gatherElements(idx, pick, 1);
    }
  }
  const lp = op.gatherElements(op.logSoftmax(policy, -1), token, 1);
  return { token: op.reshape(token, [b]), logprob: op.reshape(lp, [b]) };
}
