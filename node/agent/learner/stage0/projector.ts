// Stage-0's projection (docs/design §1.12) run by onnxruntime over many states at once (projection-graph.ts):
// the log-probs of given tokens under the projection (scoring a slot, relaxing its ball), and the next token
// of each row drawn from it (decoding). Over a real vocabulary (151,936 ids) this is what makes Stage-0
// affordable: a state costs a few ms here, against tens in a JavaScript loop.
import { Graph } from '../../../gpu/graph.ts';
import * as op from '../../../gpu/ops.ts';
import { type HostTensor, SessionCache, type SessionOptions } from '../../../gpu/ort.ts';
import { type SamplingConfig, samplerKey, sampleNext } from '../../model/sampler.ts';
import { projectRows } from './projection-graph.ts';

/** States projected at once when scoring: a fixed bucket (the last one padded), so one graph serves every stage. */
const STATES = 16;

const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });

export class Stage0Projector {
  private readonly sessions: SessionCache;

  constructor(session: SessionOptions = {}) {
    this.sessions = new SessionCache(session);
  }

  /**
   * Per state — a row of `logPre` and `logCur`, log-distributions flat [n, vocab] — under the ball of radius
   * `delta`: log pi_delta of its token, KL(pi_delta || pi_cur) and KL(pi_pre || pi_cur).
   */
  async atTokens(
    logPre: Float32Array,
    logCur: Float32Array,
    tokens: readonly number[],
    vocab: number,
    delta: number,
  ): Promise<{ logp: Float32Array; kl: Float32Array; klPre: Float32Array }> {
    const n = tokens.length;
    const out = { logp: new Float32Array(n), kl: new Float32Array(n), klPre: new Float32Array(n) };
    const s = await this.sessions.get(`tokens ${STATES}x${vocab}`, () => tokensGraph(vocab).toBytes());
    for (let at = 0; at < n; at += STATES) {
      const m = Math.min(STATES, n - at);
      // Padding states are all zeros: inside any ball, done at once.
      const chunk = (x: Float32Array) => {
        const c = new Float32Array(STATES * vocab);
        c.set(x.subarray(at * vocab, (at + m) * vocab));
        return c;
      };
      const ids = new BigInt64Array(STATES);
      for (let i = 0; i < m; i++) ids[i] = BigInt(tokens[at + i]);
      const r = await s.run({
        log_pre: f32([STATES, vocab], chunk(logPre)),
        log_cur: f32([STATES, vocab], chunk(logCur)),
        token: { dtype: 'int64', shape: [STATES], data: ids },
        delta: f32([], Float32Array.of(delta)),
      });
      out.logp.set((r.logp.data as Float32Array).subarray(0, m), at);
      out.kl.set((r.kl.data as Float32Array).subarray(0, m), at);
      out.klPre.set((r.kl_pre.data as Float32Array).subarray(0, m), at);
    }
    return out;
  }

  /**
   * One decoding step of `b` rows: from both models' logits [b, vocab] at `temperature`, each row's next token drawn
   * from the projection onto the ball of radius `delta` (greedy: its most likely token) by `uniform` [b], and the
   * token's log pi_new.
   */
  async next(
    logitsPre: Float32Array,
    logitsCur: Float32Array,
    b: number,
    vocab: number,
    o: { temperature: number; delta: number; sampling: SamplingConfig; uniform: Float32Array },
  ): Promise<{ tokens: BigInt64Array; logprobs: Float32Array }> {
    const s = await this.sessions.get(`next ${b}x${vocab} ${samplerKey(o.sampling)}`, () =>
      nextGraph(b, vocab, o.sampling).toBytes(),
    );
    const r = await s.run({
      logits_pre: f32([b, vocab], logitsPre),
      logits_cur: f32([b, vocab], logitsCur),
      temperature: f32([], Float32Array.of(o.temperature)),
      delta: f32([], Float32Array.of(o.delta)),
      ...(o.sampling.temperature > 0
        ? { top_p: f32([], Float32Array.of(o.sampling.topP)), uniform: f32([b], o.uniform) }
        : {}),
    });
    return { tokens: r.next_token.data as BigInt64Array, logprobs: r.logprob.data as Float32Array };
  }

  release(): Promise<void> {
    return this.sessions.release();
  }
}

/** log_pre, log_cur [STATES, V], token [STATES], delta [] -> logp, kl, kl_pre [STATES]. */
function tokensGraph(vocab: number): Graph {
  const g = new Graph('stage0_tokens');
  const shape = [STATES, vocab];
  const { logNew, kl, klPre } = projectRows(
    g.input('log_pre', 'float32', shape),
    g.input('log_cur', 'float32', shape),
    g.input('delta', 'float32', []),
  );
  const token = op.unsqueeze(g.input('token', 'int64', [STATES]), [1]);
  g.output(op.reshape(op.gatherElements(logNew, token, 1), [STATES]), 'logp');
  g.output(kl, 'kl');
  g.output(klPre, 'kl_pre');
  return g;
}

/** logits_pre, logits_cur [B, V], temperature [], delta [] (and top_p [], uniform [B]) -> next_token, logprob [B]. */
function nextGraph(b: number, vocab: number, s: SamplingConfig): Graph {
  const g = new Graph('stage0_next');
  const temperature = g.input('temperature', 'float32', []);
  const policy = (name: string) => op.logSoftmax(op.div(g.input(name, 'float32', [b, vocab]), temperature), -1);
  const { logNew } = projectRows(policy('logits_pre'), policy('logits_cur'), g.input('delta', 'float32', []));
  // The projection is the policy itself: drawn from at temperature 1.
  const { token, logprob } = sampleNext(
    logNew,
    s,
    s.temperature > 0
      ? {
          temperature: g.scalar('float32', 1),
          topP: g.input('top_p', 'float32', []),
          uniform: g.input('uniform', 'float32', [b]),
        }
      : undefined,
  );
  g.output(token, 'next_token');
  g.output(logprob, 'logprob');
  return g;
}
