// What the rest of the system needs of an agent's policy to take turns: generation over a batch of
// prompts (the KV-cache Generator and Stage-0's ProjectedGenerator both give it).
import { range } from '../util/arrays.ts';
import type { GenerateOptions, Generation } from './model/generate.ts';

/** What a turn needs of a generator: the KV-cache Generator and Stage-0's ProjectedGenerator both have it. */
export interface TurnGenerator {
  generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<Generation[]>;
}

/**
 * `gen` taking `size` prompts at a time; each row samples as it would in the whole batch (GenerateOptions.rows).
 */
export function inMicroBatches(gen: TurnGenerator, size: number): TurnGenerator {
  return {
    generate: async (prompts, opts) => {
      const out: Generation[] = [];
      for (let at = 0; at < prompts.length; at += size)
        out.push(
          ...(await gen.generate(prompts.slice(at, at + size), {
            ...opts,
            rows: (opts.rows ?? range(0, prompts.length)).slice(at, at + size),
          })),
        );
      return out;
    },
  };
}
