// Decoding an upgraded slot (Stage-0 of plug-and-play, DESIGN.md §1): at every state both the newcomer
// pi_pre and the incumbent pi_cur score the text so far, and the token is drawn from the projection of
// pi_pre onto the ball KL(. || pi_cur) <= delta_0 (stage0.ts), at the sampling temperature. The
// reported log-prob is that of the distribution drawn from (log pi_new when greedy).
//
// This is the reference path: each step re-scores the whole sequence (no KV cache) and projects over
// the vocabulary in JavaScript — fine for the embedded models, to move into one graph for large ones.
import type { TurnGenerator } from './chain.ts';
import { InputError } from './errors.ts';
import type { GenerateOptions, Generation } from './generate.ts';
import { rng } from './random.ts';
import type { Scorer } from './score.ts';
import { stage0Project } from './stage0.ts';

export class ProjectedGenerator implements TurnGenerator {
  constructor(private readonly pre: Scorer, private readonly cur: Scorer, readonly delta0: number) {
    if (pre.ckpt.config.vocabSize !== cur.ckpt.config.vocabSize) {
      throw new InputError(`the newcomer has ${pre.ckpt.config.vocabSize} ids and the incumbent ${cur.ckpt.config.vocabSize}: Stage-0 needs one vocabulary`);
    }
  }

  async generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<Generation[]> {
    const s = opts.sampling ?? { temperature: 0, topK: 0, topP: 1 };
    const next = rng(opts.seed ?? 0);
    const stop = new Set(opts.stopTokenIds ?? []);
    const rows = prompts.map((p) => [...p]);
    const out: Generation[] = prompts.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' }));
    // Every row is scored at every step (finished ones unchanged), so the batch keeps one shape.
    const done = rows.map(() => false);
    for (let step = 0; step < opts.maxNewTokens && done.includes(false); step++) {
      const [pre, cur] = await Promise.all([this.pre.score(rows), this.cur.score(rows)]);
      rows.forEach((row, i) => {
        if (done[i]) return;
        const { piNew } = stage0Project(pre.lastLogits[i], cur.lastLogits[i], this.delta0);
        const { token, p } = s.temperature === 0 ? { token: argMax(piNew), p: piNew[argMax(piNew)] } : draw(piNew, s.temperature, s.topP, next());
        row.push(token);
        out[i].tokens.push(token);
        out[i].logprobs.push(Math.log(p));
        if (stop.has(token)) [out[i].finishReason, done[i]] = ['eos', true];
        else if (out[i].tokens.length >= opts.maxNewTokens) done[i] = true;
      });
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
 * A draw from p^(1/temperature), kept to the most likely tokens holding mass topP, by inverse CDF at u;
 * with the token's probability under p^(1/temperature) (before the top-p cut, as the sampler reports it).
 */
function draw(p: Float64Array, temperature: number, topP: number, u: number): { token: number; p: number } {
  const scaled = Array.from(p, (x, i) => ({ i, w: Math.pow(x, 1 / temperature) })).sort((a, b) => b.w - a.w);
  const total = scaled.reduce((sum, x) => sum + x.w, 0);
  const kept: typeof scaled = [];
  let mass = 0;
  for (const x of scaled) {
    if (kept.length && mass >= topP * total) break;
    kept.push(x);
    mass += x.w;
  }
  let acc = 0;
  const chosen = kept.find((x) => (acc += x.w) > u * mass) ?? kept[kept.length - 1];
  return { token: chosen.i, p: chosen.w / total };
}
