// Decoding an upgraded slot (Stage-0 of plug-and-play, docs/design §1.12): at every state both the newcomer
// pi_pre and the incumbent pi_cur score the text so far, each at the sampling temperature
// (softmax(logits / T), the policies the team samples from), and the token is drawn from the
// projection of pi_pre onto the ball KL(. || pi_cur) <= delta_0 (projection.ts). Greedy decoding takes the
// most likely token of the projection at the policy's own temperature (the one it is trained and
// relaxed at). The reported log-prob is log pi_new of the token.
//
// Both models decode with their KV caches in lockstep (Generator.steps in 'logits' mode); the
// projection runs over the vocabulary in JavaScript, one state at a time.
import type { TurnGenerator } from '../../policy.ts';
import { InputError } from '../../errors.ts';
import { GREEDY } from '../../model/sampler.ts';
import type { GenerateOptions, Generation, Generator } from '../../model/generate.ts';
import { rowStreams } from '../../model/random.ts';
import { stage0Project } from './projection.ts';

export class ProjectedGenerator implements TurnGenerator {
  /** `temperature`: the policy's, at which greedy decoding projects. */
  constructor(
    private readonly pre: Generator,
    private readonly cur: Generator,
    readonly delta0: number,
    private readonly temperature = 1,
  ) {
    if (pre.ckpt.config.vocabSize !== cur.ckpt.config.vocabSize) {
      throw new InputError(
        `the newcomer has ${pre.ckpt.config.vocabSize} ids and the incumbent ${cur.ckpt.config.vocabSize}: Stage-0 needs one vocabulary`,
      );
    }
  }

  async generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<Generation[]> {
    const s = opts.sampling ?? GREEDY;
    const vocab = this.pre.ckpt.config.vocabSize;
    const streams = rowStreams(opts.seed ?? 0, prompts.length, opts.firstRow);
    const stop = new Set(opts.stopTokenIds ?? []);
    const out: Generation[] = prompts.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' }));
    const done = prompts.map(() => false);
    const chosen = new BigInt64Array(prompts.length);
    const t = s.temperature || this.temperature;
    const tempered = (logits: Float32Array) => (t === 1 ? logits : logits.map((x) => x / t));
    const [pre, cur] = [
      this.pre.steps(prompts, opts.maxNewTokens, 'logits'),
      this.cur.steps(prompts, opts.maxNewTokens, 'logits'),
    ];
    try {
      for (
        let [a, b] = await Promise.all([pre.next(), cur.next()]);
        !a.done && !b.done;
        [a, b] = await Promise.all([pre.next(chosen), cur.next(chosen)])
      ) {
        const [la, lb] = [a.value.logits.data as Float32Array, b.value.logits.data as Float32Array];
        out.forEach((g, i) => {
          if (done[i]) return;
          const { piNew } = stage0Project(
            tempered(la.subarray(i * vocab, (i + 1) * vocab)),
            tempered(lb.subarray(i * vocab, (i + 1) * vocab)),
            this.delta0,
          );
          const { token, p } =
            s.temperature === 0 ? { token: argMax(piNew), p: piNew[argMax(piNew)] } : draw(piNew, s.topP, streams[i]());
          chosen[i] = BigInt(token);
          g.tokens.push(token);
          g.logprobs.push(Math.log(p));
          if (stop.has(token)) [g.finishReason, done[i]] = ['eos', true];
          else if (g.tokens.length >= opts.maxNewTokens) done[i] = true;
        });
        if (!done.includes(false)) break;
      }
    } finally {
      await pre.return();
      await cur.return();
    }
    return out;
  }
}

function argMax(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/**
 * A draw from p kept to its most likely tokens holding mass topP, by inverse CDF at u; with the token's probability
 * under p (before the cut, as the sampler reports it).
 */
function draw(p: Float64Array, topP: number, u: number): { token: number; p: number } {
  const order = topP >= 1 ? Array.from(p.keys()) : Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
  let kept = order.length;
  let mass = 1;
  if (topP < 1) {
    mass = 0;
    for (kept = 0; kept < order.length && (kept === 0 || mass < topP); kept++) mass += p[order[kept]];
  }
  let acc = 0;
  for (let k = 0; k < kept; k++) {
    acc += p[order[k]];
    if (acc > u * mass) return { token: order[k], p: p[order[k]] };
  }
  return { token: order[kept - 1], p: p[order[kept - 1]] };
}
