// Choosing the next token inside the graph (no JavaScript loop over the vocabulary): greedy argmax, or
// temperature + top-k + top-p sampling by inverse CDF with one uniform number per row fed from a
// seeded generator. Also returns the log-prob of the chosen token under softmax(logits / temperature)
// (no top-k/top-p truncation; the raw model when greedy) — the log-prob RL importance ratios need,
// equal to teacher-forced scoring at the same temperature.
import type { Value } from '../gpu/graph.ts';
import * as op from '../gpu/ops.ts';

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
export const samplerKey = (s: SamplingConfig) => (s.temperature === 0 ? 'greedy' : untruncated(s) ? 'full' : `k${s.topK}`);

/**
 * From logits [B, V] emits `next_token` [B] int64 and `logprob` [B]. Sampling graphs take inputs
 * `temperature` [], `top_p` [] and `uniform` [B].
 */
export function sampleNext(logits: Value, s: SamplingConfig): void {
  const g = logits.graph;
  const [b, vocab] = logits.shape;
  let token: Value;
  // The policy the token is drawn from: softmax(logits / temperature) (the raw model when greedy).
  let policy = logits;
  if (s.temperature === 0) {
    token = op.argMax(logits, 1, true);
  } else {
    const temperature = g.input('temperature', 'float32', []);
    const topP = g.input('top_p', 'float32', []);
    const u = op.unsqueeze(g.input('uniform', 'float32', [b]), [1]);
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
  g.output(op.reshape(token, [b]), 'next_token');
  g.output(op.reshape(lp, [b]), 'logprob');
}
