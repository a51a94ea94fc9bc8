// Teacher-forced scoring: per-token log-probs of a (padded) batch and the logits at each row's last
// real token, from one forward pass.
import { Graph, type Value } from '../../gpu/graph.ts';
import * as op from '../../gpu/ops.ts';
import { type LoadProgress, SessionCache, type SessionOptions } from '../../gpu/ort.ts';
import type { Checkpoint, Qwen3Config } from './checkpoint.ts';
import { InputError } from '../errors.ts';
import { atPositions, qwen3Forward, writesAttentionOut } from './qwen3.ts';
import { VALUE_HEAD, valueHead } from './value-head.ts';
import { type ParamSource, bindWeights, frozenInputs, paramFeeds } from './weights.ts';

/**
 * log p(ids[:, t+1] | ids[:, :t+1]) for t = 0..T-2, as [B, T-1]. Computed at every position (the
 * last one's dummy target is dropped afterwards) so nothing of vocabulary size is sliced or copied.
 */
export function tokenLogprobs(logits: Value, ids: Value): Value {
  const [b, t] = ids.shape;
  const targets = op.concat([op.slice(ids, [1], [t], [1]), op.slice(ids, [0], [1], [1])], 1);
  const lp = op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(targets, [-1]), 2);
  return op.slice(op.reshape(lp, [b, t]), [0], [t - 1], [1]);
}

/**
 * tokenLogprobs at `index` [B, P] only (index t: the log-prob of token t+1), from logits [B, P, vocab]
 * taken at those positions (ForwardInputs.last): [B, P].
 */
export function tokenLogprobsAt(logits: Value, ids: Value, index: Value): Value {
  const [b, p] = index.shape;
  const targets = op.gatherElements(ids, op.add(index, op.scalarLike(index, 1)), 1);
  return op.reshape(op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(targets, [-1]), 2), [b, p]);
}

/** Positions 0..T-1 for every row, [B, T]. */
export function defaultPositions(ids: Value): Value {
  const [b, t] = ids.shape;
  return op.expand(op.unsqueeze(op.range(ids, t), [0]), [b, t]);
}

/**
 * Graph with inputs `input_ids` [B,T], `attention_mask` [B,T] (1 = token, 0 = padding) and
 * `last_index` [B]; outputs `token_logprobs` [B,T-1] and `last_logits` [B,vocab], and `values` [B,T]
 * when the source carries a value head.
 */
export function buildScoreGraph(
  ckpt: Checkpoint,
  batch: number,
  seq: number,
  source?: ParamSource,
  temperature = 1,
  writtenOutAttention = false,
): Graph {
  const g = new Graph('score');
  const ids = g.input('input_ids', 'int64', [batch, seq]);
  const mask = g.input('attention_mask', 'int64', [batch, seq]);
  const last = g.input('last_index', 'int64', [batch]);
  const { weights } = bindWeights(g, ckpt, source?.trainable, source?.lora);
  const keyMask = op.cast(mask, 'bool');
  const { logits, hidden } = qwen3Forward(ckpt.config, weights, {
    ids,
    positions: defaultPositions(ids),
    keyMask,
    maxPosition: seq,
    writtenOutAttention,
  });
  g.output(tokenLogprobs(tempered(logits, temperature), ids), 'token_logprobs');
  valuesOutput(g, hidden, source);
  g.output(op.reshape(atPositions(logits, last), [batch, ckpt.config.vocabSize]), 'last_logits');
  return g;
}

/**
 * Graph with inputs `input_ids`, `attention_mask` [B,T] and `at_index` [B,P]; output `log_probs_at`
 * [B,P,vocab]: the whole next-token distribution log softmax(logits / temperature) after each of
 * those positions (the head runs at those P only).
 */
export function buildDistributionsGraph(
  ckpt: Checkpoint,
  batch: number,
  seq: number,
  points: number,
  source?: ParamSource,
  temperature = 1,
  writtenOutAttention = false,
): Graph {
  const { g, logits } = forwardAt('distributions', ckpt, batch, seq, points, source, writtenOutAttention);
  g.output(op.logSoftmax(tempered(logits, temperature), -1), 'log_probs_at');
  return g;
}

/**
 * Graph with inputs `input_ids`, `attention_mask` [B,T] and `at_index` [B,P]; outputs `token_logprobs`
 * [B,P], the log-prob of the token after each of those positions, and `values` [B,P] at them when the
 * source carries a value head (the head runs at those P only).
 */
export function buildLogprobsAtGraph(
  ckpt: Checkpoint,
  batch: number,
  seq: number,
  points: number,
  source?: ParamSource,
  temperature = 1,
  writtenOutAttention = false,
): Graph {
  const { g, ids, at, logits, hidden } = forwardAt(
    'logprobs_at',
    ckpt,
    batch,
    seq,
    points,
    source,
    writtenOutAttention,
  );
  g.output(tokenLogprobsAt(tempered(logits, temperature), ids, at), 'token_logprobs');
  valuesOutput(g, hidden, source);
  return g;
}

const tempered = (logits: Value, temperature: number) =>
  temperature === 1 ? logits : op.div(logits, op.scalarLike(logits, temperature));

/**
 * A graph's inputs (`input_ids`, `attention_mask` [B,T], `at_index` [B,P]) and the forward pass with its head at
 * those P positions.
 */
function forwardAt(
  name: string,
  ckpt: Checkpoint,
  batch: number,
  seq: number,
  points: number,
  source: ParamSource | undefined,
  writtenOutAttention: boolean,
) {
  const g = new Graph(name);
  const ids = g.input('input_ids', 'int64', [batch, seq]);
  const mask = g.input('attention_mask', 'int64', [batch, seq]);
  const at = g.input('at_index', 'int64', [batch, points]);
  const { weights } = bindWeights(g, ckpt, source?.trainable, source?.lora);
  const { logits, hidden } = qwen3Forward(ckpt.config, weights, {
    ids,
    positions: defaultPositions(ids),
    keyMask: op.cast(mask, 'bool'),
    maxPosition: seq,
    last: at,
    writtenOutAttention,
  });
  return { g, ids, at, logits, hidden };
}

/** Output `values`, V of the value head over `hidden`, when the source carries one. */
function valuesOutput(g: Graph, hidden: Value, source: ParamSource | undefined): void {
  const head = source?.current();
  if (!head?.has(VALUE_HEAD.weight)) return;
  const input = (name: string) => g.input(name, 'float32', head.get(name)!.shape);
  g.output(valueHead(hidden, input(VALUE_HEAD.weight), input(VALUE_HEAD.bias)), 'values');
}

export interface ScoreResult {
  /** Per row, log p of each next token (length len-1). */
  tokenLogprobs: Float32Array[];
  /** Per row, the logits at its last token. */
  lastLogits: Float32Array[];
  /** Per row, V at every position (only with a value head). */
  values?: Float32Array[];
}

/**
 * Sequence lengths are padded up to these steps (16 up to 128, 32 up to 512, then 64) so that sessions are shared
 * between nearby lengths.
 */
export const seqBucket = (n: number): number => {
  const step = n <= 128 ? 16 : n <= 512 ? 32 : 64;
  return Math.ceil(n / step) * step;
};

/** Pads rows of token ids on the right with `pad` to one [B, width] batch with its attention mask. */
export function padBatch(
  rows: readonly (readonly number[])[],
  width = Math.max(...rows.map((r) => r.length)),
  pad = 0,
): { ids: BigInt64Array; mask: BigInt64Array; seq: number } {
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(pad));
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((r, i) =>
    r.forEach((id, t) => {
      ids[i * width + t] = BigInt(id);
      mask[i * width + t] = 1n;
    }),
  );
  return { ids, mask, seq: width };
}

/**
 * Checks rows of token ids against the model: InputError naming the first bad one. `extra` more
 * positions per row (tokens still to generate) must also fit the model's context.
 */
export function checkTokenRows(rows: readonly (readonly number[])[], cfg: Qwen3Config, what: string, extra = 0): void {
  const { vocabSize: vocab, maxPositionEmbeddings: context } = cfg;
  if (rows.length === 0) throw new InputError(`no ${what}s given`);
  for (const r of rows) {
    if (r.length < 1) throw new InputError(`a ${what} is empty: give at least one token`);
    const bad = r.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (bad !== undefined)
      throw new InputError(`token id ${bad} is out of range: the vocabulary has ${vocab} ids (0..${vocab - 1})`);
    if (r.length + extra > context) {
      throw new InputError(
        `a ${what} of ${r.length} tokens${extra ? ` plus ${extra} new ones` : ''} exceeds the model's context of ` +
          `${context} positions (max_position_embeddings)`,
      );
    }
  }
}

/** Teacher-forced scoring with sessions cached per (batch, seq) bucket. */
export class Scorer {
  private readonly sessions: SessionCache;
  private readonly writtenOut: boolean;

  /**
   * `temperature`: token log-probs are under softmax(logits / temperature), the policy a sampler at that temperature
   * draws from.
   */
  constructor(
    readonly ckpt: Checkpoint,
    options: SessionOptions = {},
    private readonly source?: ParamSource,
    readonly temperature = 1,
  ) {
    if (!(temperature > 0)) throw new InputError(`a scorer's temperature must be > 0, got ${temperature}`);
    this.sessions = new SessionCache({ ...options, fileInputs: frozenInputs(ckpt, source?.trainable) });
    this.writtenOut = writesAttentionOut(options.device);
  }

  async score(rows: readonly (readonly number[])[]): Promise<ScoreResult> {
    const vocab = this.ckpt.config.vocabSize;
    checkTokenRows(rows, this.ckpt.config, 'sequence');
    const b = rows.length;
    const { ids, mask, seq: width } = padBatch(rows, seqBucket(Math.max(2, ...rows.map((r) => r.length))));
    const session = await this.sessions.get(`${b}x${width}`, () =>
      buildScoreGraph(this.ckpt, b, width, this.source, this.temperature, this.writtenOut).toBytes(),
    );
    const out = await session.run({
      input_ids: { dtype: 'int64', shape: [b, width], data: ids },
      attention_mask: { dtype: 'int64', shape: [b, width], data: mask },
      last_index: { dtype: 'int64', shape: [b], data: BigInt64Array.from(rows, (r) => BigInt(r.length - 1)) },
      ...(this.source ? paramFeeds(this.source, session.inputNames) : {}),
    });
    const lp = out.token_logprobs.data as Float32Array;
    const logits = out.last_logits.data as Float32Array;
    const values = out.values?.data as Float32Array | undefined;
    return {
      tokenLogprobs: rows.map((r, i) => lp.slice(i * (width - 1), i * (width - 1) + r.length - 1)),
      lastLogits: rows.map((_, i) => logits.slice(i * vocab, (i + 1) * vocab)),
      ...(values ? { values: rows.map((r, i) => values.slice(i * width, i * width + r.length)) } : {}),
    };
  }

  /**
   * The whole next-token distribution (log-probs under the scorer's temperature) after each index in
   * `at[r]` of row r, i.e. of the token at index + 1: per row, at[r].length * vocab values.
   */
  async distributionsAt(
    rows: readonly (readonly number[])[],
    at: readonly (readonly number[])[],
  ): Promise<Float32Array[]> {
    const vocab = this.ckpt.config.vocabSize;
    const { out, points } = await this.runAt('distributions', buildDistributionsGraph, rows, at, 0);
    const lp = out.log_probs_at.data as Float32Array;
    return at.map((ps, r) => lp.slice(r * points * vocab, (r * points + ps.length) * vocab));
  }

  /**
   * The log-prob of the token after each index in `at[r]` of row r (index t: token t+1's), and with
   * a value head V at those indices: the head runs there only, not at every position of the rows.
   */
  async logprobsAt(
    rows: readonly (readonly number[])[],
    at: readonly (readonly number[])[],
  ): Promise<{ logprobs: Float32Array[]; values?: Float32Array[] }> {
    const { out, points } = await this.runAt('logprobs', buildLogprobsAtGraph, rows, at, 1);
    const pick = (data: Float32Array) => at.map((ps, r) => data.slice(r * points, r * points + ps.length));
    return {
      logprobs: pick(out.token_logprobs.data as Float32Array),
      ...(out.values ? { values: pick(out.values.data as Float32Array) } : {}),
    };
  }

  /**
   * Runs a graph whose head reads `at_index` (indices padded to a bucket of P, below each row's length less
   * `reserve`); its outputs and P.
   */
  private async runAt(
    kind: string,
    build: typeof buildDistributionsGraph,
    rows: readonly (readonly number[])[],
    at: readonly (readonly number[])[],
    reserve: number,
  ) {
    checkTokenRows(rows, this.ckpt.config, 'sequence');
    if (at.length !== rows.length)
      throw new InputError(`${kind}At needs one index list per row: ${at.length} lists for ${rows.length} rows`);
    at.forEach((ps, r) =>
      ps.forEach((p) => {
        if (!Number.isInteger(p) || p < 0 || p >= rows[r].length - reserve)
          throw new InputError(
            `index ${p} lies outside row ${r} of ${rows[r].length} tokens${reserve ? ' (the last has no next token)' : ''}`,
          );
      }),
    );
    const b = rows.length;
    const points = seqBucket(Math.max(1, ...at.map((ps) => ps.length)));
    const { ids, mask, seq: width } = padBatch(rows, seqBucket(Math.max(2, ...rows.map((r) => r.length))));
    const index = new BigInt64Array(b * points);
    at.forEach((ps, r) =>
      ps.forEach((p, k) => {
        index[r * points + k] = BigInt(p);
      }),
    );
    const session = await this.sessions.get(`${kind} ${b}x${width}x${points}`, () =>
      build(this.ckpt, b, width, points, this.source, this.temperature, this.writtenOut).toBytes(),
    );
    const out = await session.run({
      input_ids: { dtype: 'int64', shape: [b, width], data: ids },
      attention_mask: { dtype: 'int64', shape: [b, width], data: mask },
      at_index: { dtype: 'int64', shape: [b, points], data: index },
      ...(this.source ? paramFeeds(this.source, session.inputNames) : {}),
    });
    return { out, points };
  }

  /** Reads the frozen weights now (they are otherwise read by the first run), reporting progress. */
  loadWeights(onProgress?: LoadProgress): Promise<void> {
    return this.sessions.load(onProgress);
  }

  async release(): Promise<void> {
    await this.sessions.release();
  }
}
