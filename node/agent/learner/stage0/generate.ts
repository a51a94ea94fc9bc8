// Decoding an upgraded slot (Stage-0 of plug-and-play, docs/design §1.12): at every state both the newcomer
// pi_pre and the incumbent pi_cur score the text so far, each at the sampling temperature
// (softmax(logits / T), the policies the team samples from), and the token is drawn from the
// projection of pi_pre onto the ball KL(. || pi_cur) <= delta_0 (projection.ts). Greedy decoding takes the
// most likely token of the projection at the policy's own temperature (the one it is trained and
// relaxed at). The reported log-prob is log pi_new of the token.
//
// Both models decode with their KV caches in lockstep (Generator.steps in 'logits' mode); each step's
// projection and draw run in one graph over every row (projector.ts).
import type { TurnGenerator } from '../../policy.ts';
import { InputError } from '../../errors.ts';
import { GREEDY } from '../../model/sampler.ts';
import type { GenerateOptions, Generation, Generator } from '../../model/generate.ts';
import { rowStreams } from '../../model/random.ts';
import type { Stage0Projector } from './projector.ts';

export class ProjectedGenerator implements TurnGenerator {
  /** `temperature`: the policy's, at which greedy decoding projects. */
  constructor(
    private readonly pre: Generator,
    private readonly cur: Generator,
    private readonly projector: Stage0Projector,
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
    const sampling = opts.sampling ?? GREEDY;
    const vocab = this.pre.ckpt.config.vocabSize;
    const b = prompts.length;
    const streams = rowStreams(opts.seed ?? 0, b, opts.rows);
    const stop = new Set(opts.stopTokenIds ?? []);
    const out: Generation[] = prompts.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' }));
    const done = prompts.map(() => false);
    let chosen: BigInt64Array = new BigInt64Array(b);
    const step = { temperature: sampling.temperature || this.temperature, delta: this.delta0, sampling };
    const [pre, cur] = [
      this.pre.steps(prompts, opts.maxNewTokens, 'logits'),
      this.cur.steps(prompts, opts.maxNewTokens, 'logits'),
    ];
    try {
      for (
        let [a, c] = await Promise.all([pre.next(), cur.next()]);
        !a.done && !c.done;
        [a, c] = await Promise.all([pre.next(chosen), cur.next(chosen)])
      ) {
        // A finished row draws no number, as when rows decode alone.
        const uniform = Float32Array.from(done, (d, i) => (d || sampling.temperature === 0 ? 0 : streams[i]()));
        const next = await this.projector.next(
          a.value.logits.data as Float32Array,
          c.value.logits.data as Float32Array,
          b,
          vocab,
          { ...step, uniform },
        );
        chosen = next.tokens;
        out.forEach((g, i) => {
          if (done[i]) return;
          const token = Number(chosen[i]);
          g.tokens.push(token);
          g.logprobs.push(next.logprobs[i]);
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
