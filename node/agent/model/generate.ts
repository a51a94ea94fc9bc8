// Batched generation with a KV cache: one prefill pass over the right-padded prompts, then one decode
// pass per new token over a fixed-capacity cache (static shapes, so each graph is built once per
// bucket). The next token is chosen in the graph (sampler.ts); only ids, log-probs and the new
// tokens' keys/values cross the binding per step.
import { Graph, type Value } from '../../gpu/graph.ts';
import * as op from '../../gpu/ops.ts';
import { type HostTensor, type LoadProgress, SessionCache, type SessionOptions } from '../../gpu/ort.ts';
import type { Checkpoint } from './checkpoint.ts';
import { InputError } from '../errors.ts';
import { type KV, qwen3Forward, writesAttentionOut } from './qwen3.ts';
import { rowStreams } from './random.ts';
import { GREEDY, type SamplingConfig, sampleNext, samplerKey } from './sampler.ts';
import { checkTokenRows, defaultPositions, padBatch, seqBucket } from './score.ts';
import { type ParamSource, bindWeights, frozenInputs, paramFeeds } from './weights.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  sampling?: SamplingConfig;
  seed?: number;
  /** Token ids that end a row (EOS); the stop token is kept in the output. */
  stopTokenIds?: readonly number[];
  /** Strings that end a row once the decoded continuation contains one (needs `decode`). */
  stopStrings?: readonly string[];
  decode?: (ids: number[]) => string;
  /**
   * Where each row sits in a larger batch this is a part of (a micro-batch, or a peer's share of a turn): each row
   * samples from its own stream (random.ts rowStreams). Without it, row r is r.
   */
  rows?: readonly number[];
}

export interface Generation {
  tokens: number[];
  /** log p(token) under the model at temperature 1, per generated token. */
  logprobs: number[];
  finishReason: 'eos' | 'stop' | 'length';
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** What a decoding step ends with: the in-graph sampler's choice, or the raw logits for the caller to choose from. */
export type StepMode = SamplingConfig | 'logits';

/** The step's head: `next_token` and `logprob` by the sampler, or `logits` [B, vocab] as they are. */
function choose(g: Graph, logits: Value, mode: StepMode): void {
  if (mode === 'logits') return void g.output(logits, 'logits');
  const { token, logprob } = sampleNext(logits, mode);
  g.output(token, 'next_token');
  g.output(logprob, 'logprob');
}
/** A prefill's outputs and the decoding state it leaves. */
interface Prefilled {
  out: Record<string, HostTensor>;
  b: number;
  lens: number[];
  /** The sampler's part of session keys. */
  key: string;
  params: Record<string, HostTensor>;
  /** Cache slots (0 when no decode step follows). */
  capacity: number;
  cache: KV32[];
  /** [B, capacity + 1]: the cached slots a row may attend, then the token being decoded. */
  keyMask: BigInt64Array;
  store: (src: HostTensor, dst: Float32Array, len: number, at: (r: number) => number) => void;
}
interface KV32 {
  k: Float32Array;
  v: Float32Array;
}

const layerNames = (l: number) => ({ pk: `past_k.${l}`, pv: `past_v.${l}`, k: `present_k.${l}`, v: `present_v.${l}` });

export class Generator {
  private readonly sessions: SessionCache;
  private readonly writtenOut: boolean;

  constructor(
    readonly ckpt: Checkpoint,
    options: SessionOptions = {},
    private readonly source?: ParamSource,
  ) {
    this.sessions = new SessionCache({ ...options, fileInputs: frozenInputs(ckpt, source?.trainable) });
    this.writtenOut = writesAttentionOut(options.device);
  }

  /**
   * Prefill graph: prompts [B, T] -> first token (or the logits it is chosen from), and every layer's keys/values [B,
   * kv, T, D].
   */
  private prefillGraph(batch: number, seq: number, s: StepMode): Graph {
    const g = new Graph('prefill');
    const ids = g.input('input_ids', 'int64', [batch, seq]);
    const mask = g.input('attention_mask', 'int64', [batch, seq]);
    const last = g.input('last_index', 'int64', [batch]);
    const { weights } = bindWeights(g, this.ckpt, this.source?.trainable, this.source?.lora);
    const { logits, present } = qwen3Forward(this.ckpt.config, weights, {
      ids,
      positions: defaultPositions(ids),
      keyMask: op.cast(mask, 'bool'),
      maxPosition: seq,
      last,
      writtenOutAttention: this.writtenOut,
    });
    choose(g, op.reshape(logits, [batch, this.ckpt.config.vocabSize]), s);
    present.forEach((kv, l) => {
      g.output(kv.k, layerNames(l).k);
      g.output(kv.v, layerNames(l).v);
    });
    return g;
  }

  /** Decode graph: one token per row against a cache of `capacity` slots plus the new token. */
  private decodeGraph(batch: number, capacity: number, s: StepMode): Graph {
    const { numKvHeads: kv, headDim: d, numLayers } = this.ckpt.config;
    const g = new Graph('decode');
    const ids = g.input('input_ids', 'int64', [batch, 1]);
    const positions = g.input('positions', 'int64', [batch, 1]);
    const keyMask = op.cast(g.input('key_mask', 'int64', [batch, capacity + 1]), 'bool');
    const past: KV[] = [];
    for (let l = 0; l < numLayers; l++) {
      past.push({
        k: g.input(layerNames(l).pk, 'float32', [batch, kv, capacity, d]),
        v: g.input(layerNames(l).pv, 'float32', [batch, kv, capacity, d]),
      });
    }
    const { weights } = bindWeights(g, this.ckpt, this.source?.trainable, this.source?.lora);
    const { logits, present } = qwen3Forward(this.ckpt.config, weights, {
      ids,
      positions,
      keyMask,
      past,
      maxPosition: capacity + 1,
      writtenOutAttention: this.writtenOut,
    });
    choose(g, op.reshape(logits, [batch, this.ckpt.config.vocabSize]), s);
    present.forEach((p, l) => {
      g.output(p.k, layerNames(l).k);
      g.output(p.v, layerNames(l).v);
    });
    return g;
  }

  async generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<Generation[]> {
    const sampling = opts.sampling ?? GREEDY;
    checkOptions(opts, sampling);
    const b = prompts.length;
    const streams = rowStreams(opts.seed ?? 0, b, opts.rows);
    const samplingFeeds = (): Record<string, HostTensor> =>
      sampling.temperature === 0
        ? {}
        : {
            temperature: { dtype: 'float32', shape: [], data: Float32Array.of(sampling.temperature) },
            top_p: { dtype: 'float32', shape: [], data: Float32Array.of(sampling.topP) },
            uniform: { dtype: 'float32', shape: [b], data: Float32Array.from(streams, (next) => next()) },
          };
    const results: Generation[] = prompts.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' }));
    const done = new Array(b).fill(false);
    const stopIds = new Set(opts.stopTokenIds ?? []);
    /** Appends each unfinished row's chosen token; true once every row is finished. */
    const take = (o: Record<string, HostTensor>): boolean => {
      const tokens = o.next_token.data as BigInt64Array;
      const lps = o.logprob.data as Float32Array;
      for (let r = 0; r < b; r++) {
        if (done[r]) continue;
        const res = results[r];
        res.tokens.push(Number(tokens[r]));
        res.logprobs.push(lps[r]);
        if (stopIds.has(res.tokens.at(-1)!)) [done[r], res.finishReason] = [true, 'eos'];
        else if (opts.stopStrings?.length && opts.stopStrings.some((s) => opts.decode!(res.tokens).includes(s))) {
          [done[r], res.finishReason] = [true, 'stop'];
        } else if (res.tokens.length >= opts.maxNewTokens) done[r] = true;
      }
      return done.every(Boolean);
    };
    // Stop strings need the text after every token; otherwise the whole decoding runs in one graph.
    const steps = opts.stopStrings?.length
      ? this.steps(prompts, opts.maxNewTokens, sampling, samplingFeeds)
      : this.looped(prompts, opts.maxNewTokens, sampling, [...stopIds], samplingFeeds);
    for (
      let step = await steps.next();
      !step.done;
      step = await steps.next(step.value.next_token.data as BigInt64Array)
    ) {
      if (take(step.value)) break;
    }
    await steps.return();
    return results;
  }

  /** The prefill's run over the right-padded prompts, and the KV cache it starts (when decoding follows). */
  private async prefill(
    prompts: readonly (readonly number[])[],
    maxNewTokens: number,
    mode: StepMode,
    extraFeeds: () => Record<string, HostTensor>,
  ): Promise<Prefilled> {
    const { numKvHeads: kvHeads, headDim: d, numLayers } = this.ckpt.config;
    checkTokenRows(prompts, this.ckpt.config, 'prompt', maxNewTokens);
    const b = prompts.length;
    const lens = prompts.map((p) => p.length);
    const { ids, mask, seq } = padBatch(prompts, seqBucket(Math.max(...lens)));
    const key = mode === 'logits' ? 'logits' : samplerKey(mode);
    const prefill = await this.sessions.get(`prefill ${b}x${seq} ${key}`, () =>
      this.prefillGraph(b, seq, mode).toBytes(),
    );
    const params = this.source ? paramFeeds(this.source, prefill.inputNames) : {};
    const out = await prefill.run({
      input_ids: { dtype: 'int64', shape: [b, seq], data: ids },
      attention_mask: { dtype: 'int64', shape: [b, seq], data: mask },
      last_index: { dtype: 'int64', shape: [b], data: BigInt64Array.from(lens, (n) => BigInt(n - 1)) },
      ...extraFeeds(),
      ...params,
    });
    // The cache: [B, kv, capacity, D] per layer; slot t of row r holds the token at position t.
    const capacity = maxNewTokens < 2 ? 0 : roundUp(seq + maxNewTokens, 32);
    const size = b * kvHeads * capacity * d;
    const cache = Array.from({ length: capacity ? numLayers : 0 }, () => ({
      k: new Float32Array(size),
      v: new Float32Array(size),
    }));
    const keyMask = new BigInt64Array(b * (capacity + 1));
    for (let r = 0; capacity && r < b; r++) {
      for (let t = 0; t < lens[r]; t++) keyMask[r * (capacity + 1) + t] = 1n;
      keyMask[r * (capacity + 1) + capacity] = 1n; // the token being decoded
    }
    // Copies keys/values [B, kv, len, D] (contiguous per row and head) into the cache at slot at(r).
    const store = (src: HostTensor, dst: Float32Array, len: number, at: (r: number) => number) => {
      const data = src.data as Float32Array;
      for (let r = 0; r < b; r++) {
        for (let h = 0; h < kvHeads; h++) {
          const from = (r * kvHeads + h) * len * d;
          dst.set(data.subarray(from, from + len * d), ((r * kvHeads + h) * capacity + at(r)) * d);
        }
      }
    };
    cache.forEach((c, l) => {
      store(out[layerNames(l).k], c.k, seq, () => 0);
      store(out[layerNames(l).v], c.v, seq, () => 0);
    });
    return { out, b, lens, key, params, capacity, cache, keyMask, store };
  }

  /**
   * Decodes a batch with a KV cache, one step per yield: first the prefill's outputs, then each decode
   * step's — `next_token` and `logprob` from the in-graph sampler, or the raw next-token `logits`
   * [B, vocab] in 'logits' mode. The caller passes back the token each row takes (a finished row's
   * is ignored), and stops iterating when it has what it needs; at most `maxNewTokens` steps run.
   */
  async *steps(
    prompts: readonly (readonly number[])[],
    maxNewTokens: number,
    mode: StepMode,
    extraFeeds: () => Record<string, HostTensor> = () => ({}),
  ): AsyncGenerator<Record<string, HostTensor>, void, BigInt64Array> {
    const { numKvHeads: kvHeads, headDim: d, numLayers } = this.ckpt.config;
    const {
      out: first,
      b,
      lens,
      key,
      params,
      capacity,
      cache,
      keyMask,
      store,
    } = await this.prefill(prompts, maxNewTokens, mode, extraFeeds);
    let chosen = yield first;
    if (maxNewTokens < 2) return;
    const cacheShape = [b, kvHeads, capacity, d];
    const decode = await this.sessions.get(`decode ${b}x${capacity} ${key}`, () =>
      this.decodeGraph(b, capacity, mode).toBytes(),
    );
    // Every tensor of the step lives across steps: the feeds are updated in place and the new
    // tokens' keys/values land in fixed buffers. The cache and key mask are lent to a session worker
    // (moved, not copied, each step), so they are reached through the feeds after each run.
    const stepIds = new BigInt64Array(b);
    const positions = new BigInt64Array(b);
    const feeds: Record<string, HostTensor> = {
      input_ids: { dtype: 'int64', shape: [b, 1], data: stepIds },
      positions: { dtype: 'int64', shape: [b, 1], data: positions },
      key_mask: { dtype: 'int64', shape: [b, capacity + 1], data: keyMask, lend: true },
      ...params,
    };
    const into: Record<string, HostTensor> = {};
    cache.forEach((c, l) => {
      const n = layerNames(l);
      feeds[n.pk] = { dtype: 'float32', shape: cacheShape, data: c.k, lend: true };
      feeds[n.pv] = { dtype: 'float32', shape: cacheShape, data: c.v, lend: true };
      into[n.k] = { dtype: 'float32', shape: [b, kvHeads, 1, d], data: new Float32Array(b * kvHeads * d) };
      into[n.v] = { dtype: 'float32', shape: [b, kvHeads, 1, d], data: new Float32Array(b * kvHeads * d) };
    });
    for (let step = 0; step < maxNewTokens - 1; step++) {
      // Feed the chosen tokens at positions len + step; their keys/values land in slot len + step.
      stepIds.set(chosen);
      for (let r = 0; r < b; r++) positions[r] = BigInt(lens[r] + step);
      const out = await decode.run({ ...feeds, ...extraFeeds() }, into);
      const slot = (r: number) => lens[r] + step;
      for (let l = 0; l < numLayers; l++) {
        const n = layerNames(l);
        store(out[n.k], feeds[n.pk].data as Float32Array, 1, slot);
        store(out[n.v], feeds[n.pv].data as Float32Array, 1, slot);
      }
      const mask = feeds.key_mask.data as BigInt64Array;
      for (let r = 0; r < b; r++) mask[r * (capacity + 1) + slot(r)] = 1n;
      chosen = yield out;
    }
  }

  /**
   * What `steps` yields for a sampling mode, with every decode step inside one run: an ONNX Loop over
   * the steps carries the cache (no copy to or from the graph between tokens, which on a GPU would
   * cross the bus) and ends once every row has met a stop token. Yields the prefill's outputs, then
   * each step's `next_token` and `logprob`.
   */
  private async *looped(
    prompts: readonly (readonly number[])[],
    maxNewTokens: number,
    mode: SamplingConfig,
    stopIds: readonly number[],
    extraFeeds: () => Record<string, HostTensor>,
  ): AsyncGenerator<Record<string, HostTensor>, void> {
    const { numKvHeads: kvHeads, headDim: d } = this.ckpt.config;
    const {
      out: first,
      b,
      lens,
      key,
      params,
      capacity,
      cache,
    } = await this.prefill(prompts, maxNewTokens, mode, extraFeeds);
    yield first;
    const firstTokens = first.next_token.data as BigInt64Array;
    const done = Uint8Array.from(firstTokens, (t) => (stopIds.includes(Number(t)) ? 1 : 0));
    if (maxNewTokens < 2 || done.every(Boolean)) return;
    const steps = maxNewTokens - 1;
    const stops = stopIds.length ? BigInt64Array.from(stopIds, BigInt) : BigInt64Array.of(-1n); // -1: no token
    const loop = await this.sessions.get(`loop ${b}x${capacity}x${steps} ${key} ${stops.length}`, () =>
      this.loopGraph(b, capacity, steps, mode, stops.length).toBytes(),
    );
    const feeds: Record<string, HostTensor> = {
      input_ids: { dtype: 'int64', shape: [b, 1], data: firstTokens.slice() },
      positions: { dtype: 'int64', shape: [b, 1], data: BigInt64Array.from(lens, BigInt) },
      // The cached slots each row may attend (its prompt's); each step adds the slot it writes.
      key_mask: {
        dtype: 'int64',
        shape: [b, capacity],
        data: BigInt64Array.from({ length: b * capacity }, (_, i) =>
          BigInt(i % capacity < lens[Math.floor(i / capacity)]),
        ),
      },
      done: { dtype: 'bool', shape: [b], data: done },
      stop_ids: { dtype: 'int64', shape: [stops.length], data: stops },
      ...params,
    };
    cache.forEach((c, l) => {
      const n = layerNames(l);
      feeds[n.pk] = { dtype: 'float32', shape: [b, kvHeads, capacity, d], data: c.k, lend: true };
      feeds[n.pv] = { dtype: 'float32', shape: [b, kvHeads, capacity, d], data: c.v, lend: true };
    });
    if (mode.temperature > 0) {
      // The uniform numbers the steps would draw one by one, in the same order.
      const draws = Array.from({ length: steps }, extraFeeds);
      const uniform = new Float32Array(steps * b);
      draws.forEach((f, i) => uniform.set(f.uniform.data as Float32Array, i * b));
      Object.assign(feeds, {
        temperature: draws[0].temperature,
        top_p: draws[0].top_p,
        uniform: { dtype: 'float32', shape: [steps, b], data: uniform },
      });
    }
    const out = await loop.run(feeds, {}, ['tokens', 'logprobs']);
    const [ran] = out.tokens.shape;
    const tokens = out.tokens.data as BigInt64Array;
    const logprobs = out.logprobs.data as Float32Array;
    for (let i = 0; i < ran; i++) {
      yield {
        next_token: { dtype: 'int64', shape: [b], data: tokens.subarray(i * b, (i + 1) * b) },
        logprob: { dtype: 'float32', shape: [b], data: logprobs.subarray(i * b, (i + 1) * b) },
      };
    }
  }

  /**
   * The Loop of `looped`: carried token ids, positions, key mask, finished rows and every layer's
   * cache; each step the decode graph's computation, the new token's keys/values written into the
   * cache at its position, and the chosen token and its log-prob stacked as `tokens` and `logprobs`
   * [steps run, B]. Sampling reads `uniform` [steps, B] at its step.
   */
  private loopGraph(batch: number, capacity: number, steps: number, s: SamplingConfig, stops: number): Graph {
    const { numKvHeads: kv, headDim: d, numLayers, vocabSize } = this.ckpt.config;
    const g = new Graph('decode_loop');
    const cacheShape = [batch, kv, capacity, d];
    const carried = [
      g.input('input_ids', 'int64', [batch, 1]),
      g.input('positions', 'int64', [batch, 1]),
      g.input('key_mask', 'int64', [batch, capacity]),
      g.input('done', 'bool', [batch]),
      ...Array.from({ length: numLayers }, (_, l) => [
        g.input(layerNames(l).pk, 'float32', cacheShape),
        g.input(layerNames(l).pv, 'float32', cacheShape),
      ]).flat(),
    ];
    const stopIds = g.input('stop_ids', 'int64', [stops]);
    const sampling =
      s.temperature === 0
        ? undefined
        : {
            temperature: g.input('temperature', 'float32', []),
            topP: g.input('top_p', 'float32', []),
            uniform: g.input('uniform', 'float32', [steps, batch]),
          };

    const body = g.subgraph('step');
    const iter = body.input('step.iter', 'int64', []);
    body.input('step.cond', 'bool', []);
    const [ids, positions, keyMask, done, ...caches] = carried.map((c) =>
      body.input(`step.${c.name}`, c.dtype, c.shape),
    );
    const past: KV[] = Array.from({ length: numLayers }, (_, l) => ({ k: caches[2 * l], v: caches[2 * l + 1] }));
    const { weights } = bindWeights(body, this.ckpt, this.source?.trainable, this.source?.lora, (name, dtype, shape) =>
      body.outer(g.input(name, dtype, shape)),
    );
    // The new token's keys/values go into its slot of the cache, which is then attended over whole
    // and carried to the next step: one copy of the cache a step, as the step graphs' join makes.
    // Each (row, head) slot is d values written whole by ScatterND, at (row, head, position).
    const grid = (of: (row: number, head: number) => number) =>
      body.constant(
        'int64',
        [batch, kv, 1],
        Array.from({ length: batch * kv }, (_, i) => of(Math.floor(i / kv), i % kv)),
      );
    const slot = op.concat(
      [grid((row) => row), grid((_, head) => head), op.expand(op.reshape(positions, [batch, 1, 1]), [batch, kv, 1])],
      2,
    );
    const write = (cache: Value, now: Value) => op.scatterND(cache, slot, op.reshape(now, [batch, kv, d]));
    const written: KV[] = [];
    const attendOver = (l: number, p: KV, now: KV) => (written[l] = { k: write(p.k, now.k), v: write(p.v, now.v) });
    const seen = op.scatterElements(keyMask, positions, op.expand(body.scalar('int64', 1), [batch, 1]), 1);
    const { logits } = qwen3Forward(this.ckpt.config, weights, {
      ids,
      positions,
      keyMask: op.cast(seen, 'bool'),
      past,
      attendOver,
      maxPosition: capacity,
      writtenOutAttention: this.writtenOut,
    });
    const { token, logprob } = sampleNext(
      op.reshape(logits, [batch, vocabSize]),
      s,
      sampling && {
        temperature: body.outer(sampling.temperature),
        topP: body.outer(sampling.topP),
        uniform: op.gather(body.outer(sampling.uniform), iter, 0),
      },
    );
    // A row is finished once it has taken a stop token; the loop goes on while any row is not.
    const isStop = op.reduceMax(
      op.cast(op.equal(op.unsqueeze(token, [1]), op.unsqueeze(body.outer(stopIds), [0])), 'float32'),
      [1],
    );
    const finished = op.max(op.cast(done, 'float32'), isStop);
    body.output(op.less(op.reduceMin(finished, [0]), body.scalar('float32', 1)), 'step.cond_out');
    body.output(op.reshape(token, [batch, 1]), 'step.input_ids_out');
    body.output(op.add(positions, body.scalar('int64', 1)), 'step.positions_out');
    body.output(seen, 'step.key_mask_out');
    body.output(op.cast(finished, 'bool'), 'step.done_out');
    written.forEach((kvl, l) => {
      body.output(kvl.k, `step.${layerNames(l).pk}_out`);
      body.output(kvl.v, `step.${layerNames(l).pv}_out`);
    });
    body.output(token, 'step.token');
    body.output(logprob, 'step.logprob');

    const outs = op.loop(g.scalar('int64', steps), g.constant('bool', [], [1]), carried, body, [
      { dtype: 'int64', shape: [steps, batch] },
      { dtype: 'float32', shape: [steps, batch] },
    ]);
    g.output(outs[outs.length - 2], 'tokens');
    g.output(outs[outs.length - 1], 'logprobs');
    return g;
  }

  /** Reads the frozen weights now (they are otherwise read by the first generation), reporting progress. */
  loadWeights(onProgress?: LoadProgress): Promise<void> {
    return this.sessions.load(onProgress);
  }

  async release(): Promise<void> {
    await this.sessions.release();
  }
}

/** Refuses generation options that cannot be honoured, before anything runs. */
function checkOptions(opts: GenerateOptions, s: SamplingConfig): void {
  const { maxNewTokens: n } = opts;
  if (!Number.isInteger(n) || n < 1) throw new InputError(`max new tokens must be a positive integer, got ${n}`);
  if (!(Number.isFinite(s.temperature) && s.temperature >= 0))
    throw new InputError(`temperature must be a number >= 0 (0 = greedy), got ${s.temperature}`);
  if (!(Number.isInteger(s.topK) && s.topK >= 0))
    throw new InputError(`top-k must be an integer >= 0 (0 = all tokens), got ${s.topK}`);
  if (!(s.topP > 0 && s.topP <= 1)) throw new InputError(`top-p must be in (0, 1], got ${s.topP}`);
  if (opts.seed !== undefined && !(Number.isInteger(opts.seed) && opts.seed >= 0))
    throw new InputError(`seed must be an integer >= 0, got ${opts.seed}`);
  const badStop = (opts.stopTokenIds ?? []).findIndex((id) => !Number.isSafeInteger(id) || id < 0);
  if (badStop >= 0) throw new InputError(`stop token ids must be integers >= 0, got ${opts.stopTokenIds![badStop]}`);
  if (opts.stopStrings?.length && !opts.decode)
    throw new InputError('stop strings need a decode function (token ids -> text) to be recognised');
}
