// `sat-peer generate --model <name|dir> (--prompt "..." | --prompt-ids 5,9,3)`: continues one prompt with the
// KV-cache generator, greedy or sampled, until an eos token, a stop string or --max-new-tokens.
import path from 'node:path';
import { loadCheckpoint } from '../../agent/model/checkpoint.ts';
import { Generator, type Generation } from '../../agent/model/generate.ts';
import type { SamplingConfig } from '../../agent/model/sampler.ts';
import { loadTokenizer, type Tokenizer } from '../../agent/model/tokenizer.ts';
import { UsageError } from '../errors.ts';
import type { Command } from '../command.ts';
import {
  MODEL_OPTIONS,
  idsFlag,
  modelFolder,
  numberFlag,
  optionalTokenizer,
  sessionOptions,
  stringFlag,
  printJson,
} from '../options.ts';
import { weightsProgress } from '../weights-progress.ts';

export interface GenerateResult {
  prompt_ids: number[];
  tokens: number[];
  /** log p of each generated token under the model at temperature 1. */
  logprobs: number[];
  /** The continuation decoded without special tokens; only when the checkpoint has a tokenizer. */
  text?: string;
  finish_reason: Generation['finishReason'];
  /** Generated tokens per second of the whole call (building the sessions included). */
  tokens_per_s: number;
}

const FINISH: Record<Generation['finishReason'], string> = {
  eos: 'eos (an end-of-sequence token)',
  stop: 'stop (a --stop string)',
  length: 'length (--max-new-tokens reached)',
};

export function formatSummary(r: GenerateResult, seconds: number): string {
  const n = r.tokens.length;
  const rate = `${r.tokens_per_s.toFixed(1)} tokens/s`;
  return `${n} token${n === 1 ? '' : 's'} in ${seconds.toFixed(2)} s (${rate}), finish: ${FINISH[r.finish_reason]}`;
}

/** The prompt's token ids: --prompt-ids as given, or the text encoded (inside the chat template with --chat). */
function encodePrompt(tok: Tokenizer, text: string, chat: boolean): number[] {
  return tok.encode(
    chat ? tok.applyChatTemplate([{ role: 'user', content: text }], { addGenerationPrompt: true }) : text,
  );
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt with the model, greedy or sampled',
  usage:
    'sat-peer generate --model <name|dir> (--prompt "..." | --prompt-ids 5,9,3) [--max-new-tokens N] ' +
    '[--temperature T] [--top-k K] [--top-p P] [--seed S] [--chat] [--stop S1,S2] [--offline] [--json] ' +
    '[--device cpu|cuda] [--threads N]',
  args: [],
  options: {
    model: MODEL_OPTIONS.model,
    offline: MODEL_OPTIONS.offline,
    prompt: {
      type: 'string',
      value: '<text>',
      description: "the prompt as text, tokenized by the checkpoint's tokenizer",
    },
    'prompt-ids': { type: 'string', value: '<ids>', description: 'the prompt as comma-separated token ids' },
    chat: { type: 'boolean', description: "wrap --prompt as one user message in the checkpoint's chat template" },
    'max-new-tokens': { type: 'string', value: '<n>', description: 'most tokens to generate (default 64)' },
    temperature: { type: 'string', value: '<t>', description: 'sampling temperature; 0 = greedy (default 0)' },
    'top-k': {
      type: 'string',
      value: '<k>',
      description: 'sample among the k most likely tokens; 0 = all (default 0)',
    },
    'top-p': {
      type: 'string',
      value: '<p>',
      description: 'sample among the most likely tokens holding mass p, in (0, 1] (default 1)',
    },
    seed: { type: 'string', value: '<s>', description: 'seed of the sampler (default 0)' },
    stop: {
      type: 'string',
      value: '<s1,s2>',
      description: 'comma-separated strings that end the generation once generated',
    },
    device: MODEL_OPTIONS.device,
    threads: MODEL_OPTIONS.threads,
  },
  async run({ options, json }) {
    // Everything the user typed is checked before anything is loaded.
    const spec = stringFlag(options, 'model', true);
    const text = stringFlag(options, 'prompt');
    const rawIds = stringFlag(options, 'prompt-ids');
    if ((text === undefined) === (rawIds === undefined))
      throw new UsageError('give the prompt as exactly one of --prompt or --prompt-ids');
    const ids = rawIds === undefined ? undefined : idsFlag('prompt-ids', rawIds);
    if (options.chat && text === undefined)
      throw new UsageError('--chat needs --prompt (text to put in the chat template)');
    const maxNewTokens = numberFlag(options, 'max-new-tokens', 64, { integer: true, min: 1 });
    const sampling: SamplingConfig = {
      temperature: numberFlag(options, 'temperature', 0, { min: 0 }),
      topK: numberFlag(options, 'top-k', 0, { integer: true, min: 0 }),
      topP: numberFlag(options, 'top-p', 1, { above: 0, max: 1 }),
    };
    const seed = numberFlag(options, 'seed', 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
    const stopStrings = (stringFlag(options, 'stop') ?? '').split(',').filter((s) => s !== '');
    const session = sessionOptions(options);

    const ckpt = loadCheckpoint(await modelFolder(spec, options));
    const tok = text !== undefined || stopStrings.length ? loadTokenizer(ckpt.dir) : optionalTokenizer(ckpt.dir);
    const prompt = ids ?? encodePrompt(tok!, text!, options.chat === true);
    const stopTokenIds = [...new Set([...ckpt.config.eosTokenIds, ...(tok?.eosTokenIds ?? [])])];
    const generator = new Generator(ckpt, session);
    let out: Generation;
    let seconds: number;
    try {
      await generator.loadWeights(weightsProgress(path.basename(ckpt.dir)));
      const started = performance.now();
      [out] = await generator.generate([prompt], {
        maxNewTokens,
        sampling,
        seed,
        stopTokenIds,
        ...(stopStrings.length ? { stopStrings, decode: (ids: number[]) => tok!.decode(ids) } : {}),
      });
      seconds = (performance.now() - started) / 1000;
    } finally {
      await generator.release();
    }
    const result: GenerateResult = {
      prompt_ids: prompt,
      tokens: out.tokens,
      logprobs: out.logprobs,
      ...(tok ? { text: tok.decode(out.tokens, { skipSpecialTokens: true }) } : {}),
      finish_reason: out.finishReason,
      tokens_per_s: out.tokens.length / seconds,
    };
    if (json) return printJson(result);
    process.stdout.write(`${result.text ?? result.tokens.join(',')}\n`);
    process.stderr.write(`${formatSummary(result, seconds)}\n`);
  },
};
