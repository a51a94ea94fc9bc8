// Text <-> token ids for a Hugging Face checkpoint folder, offline: `tokenizer.json` is run by
// @huggingface/tokenizers, the chat template (`chat_template.jinja`, else tokenizer_config.json's
// `chat_template`) by @huggingface/jinja — the two engines transformers.js uses.
//
//   const tok = loadTokenizer('models/tiny');
//   const prompt = tok.applyChatTemplate([{ role: 'user', content: '2+3?' }], { addGenerationPrompt: true });
//   const ids = tok.encode(prompt);            // '<|im_start|>' etc. come out as their single ids
//   const text = tok.decode(ids, { skipSpecialTokens: true });
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';

import { TokenizerError } from '../errors.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatTemplateOptions {
  /** End with the opening of an assistant turn, so that generation continues as the assistant. */
  addGenerationPrompt?: boolean;
  /** Qwen3's switch: false makes the template write an empty think block. Left out: the template's default. */
  enableThinking?: boolean;
}

export interface Tokenizer {
  /** Token ids of `text`. Special tokens written in the text map to their ids; no BOS/EOS is added. */
  encode(text: string): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The prompt text for `messages`, by the checkpoint's own chat template (ChatML when it has none). */
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string;
  /** Whether the checkpoint ships a chat template of its own (applyChatTemplate falls back to ChatML). */
  hasChatTemplate: boolean;
  /** Ids that end a generation: the tokenizer's eos token and the eos ids of generation_config/config.json. */
  eosTokenIds: number[];
  padTokenId?: number;
  /** Ids the tokenizer knows (highest id + 1); a model's embedding may have more rows. */
  vocabSize: number;
  /** sha256 (hex) of the tokenizer.json bytes: two checkpoints share a tokenizer when these match. */
  hash: string;
}

interface TokenizerConfig {
  chat_template?: unknown;
  bos_token?: unknown;
  eos_token?: unknown;
  pad_token?: unknown;
  unk_token?: unknown;
}

/** Loads the tokenizer of the checkpoint folder `dir` (synchronous: a few hundred ms for Qwen3's 11 MB). */
export function loadTokenizer(dir: string): Tokenizer {
  const file = path.join(dir, 'tokenizer.json');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new TokenizerError(`cannot read ${file}: ${String(err)}`);
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
      throw new TokenizerError(`no such folder: ${path.resolve(dir)}; give a checkpoint folder`);
    throw new TokenizerError(
      `${dir} has no tokenizer.json: the checkpoint needs a tokenizer.json (Hugging Face tokenizers format) next to its weights`,
    );
  }
  const json = parseJson(file, bytes.toString('utf8'));
  const config = (readOptionalJson(path.join(dir, 'tokenizer_config.json')) ?? {}) as TokenizerConfig;

  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (err) {
    throw new TokenizerError(`${file}: not a tokenizer this library can run: ${(err as Error).message}`);
  }

  const tokenId = (token: unknown): number | undefined => {
    const text = tokenText(token);
    return text === undefined ? undefined : hf.token_to_id(text);
  };
  const vocab = hf.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);

  const eos = new Set<number>();
  const eosOfConfig = tokenId(config.eos_token);
  if (eosOfConfig !== undefined) eos.add(eosOfConfig);
  for (const name of ['generation_config.json', 'config.json']) {
    const ids = (readOptionalJson(path.join(dir, name)) as { eos_token_id?: unknown } | undefined)?.eos_token_id;
    for (const id of [ids ?? []].flat()) {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocabSize) {
        throw new TokenizerError(
          `${path.join(dir, name)}: eos_token_id ${JSON.stringify(id)} is not a token id of ${file}`,
        );
      }
      eos.add(id as number);
    }
  }

  const template = chatTemplate(dir, config);
  const specials = {
    bos_token: tokenText(config.bos_token) ?? '',
    eos_token: tokenText(config.eos_token) ?? '',
    pad_token: tokenText(config.pad_token) ?? '',
    unk_token: tokenText(config.unk_token) ?? '',
  };

  return {
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, opts = {}) => hf.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false }),
    applyChatTemplate(messages, opts = {}) {
      if (!template) return chatMl(messages, opts.addGenerationPrompt ?? false);
      const vars: Record<string, unknown> = {
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        ...specials,
      };
      if (opts.enableThinking !== undefined) vars.enable_thinking = opts.enableThinking;
      try {
        return template.render(vars);
      } catch (err) {
        throw new TokenizerError(`${dir}: the chat template failed: ${(err as Error).message}`);
      }
    },
    hasChatTemplate: template !== undefined,
    eosTokenIds: [...eos],
    padTokenId: tokenId(config.pad_token),
    vocabSize,
    hash: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** The format Qwen's templates write, for checkpoints that ship no template. */
function chatMl(messages: ChatMessage[], addGenerationPrompt: boolean): string {
  const turns = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
  return addGenerationPrompt ? `${turns}<|im_start|>assistant\n` : turns;
}

function chatTemplate(dir: string, config: TokenizerConfig): Template | undefined {
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  let source: string | undefined;
  let from = jinjaFile;
  if (fs.existsSync(jinjaFile)) {
    source = fs.readFileSync(jinjaFile, 'utf8');
  } else {
    from = path.join(dir, 'tokenizer_config.json');
    const t = config.chat_template;
    // A list of named templates: the one called 'default' is the chat template.
    source = Array.isArray(t)
      ? (t.find((x) => x?.name === 'default')?.template as string | undefined)
      : (t as string | undefined);
    if (source !== undefined && typeof source !== 'string')
      throw new TokenizerError(`${from}: chat_template is not a string`);
  }
  if (source === undefined) return undefined;
  try {
    return new Template(source);
  } catch (err) {
    throw new TokenizerError(`${from}: the chat template does not parse: ${(err as Error).message}`);
  }
}

/** A special token as tokenizer_config.json writes it: a string, or an object with `content`. */
function tokenText(token: unknown): string | undefined {
  if (typeof token === 'string') return token;
  if (token && typeof token === 'object' && typeof (token as { content?: unknown }).content === 'string') {
    return (token as { content: string }).content;
  }
  return undefined;
}

function parseJson(file: string, text: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenizerError(`${file} is not a JSON object`);
  }
  return value;
}

function readOptionalJson(file: string): object | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenizerError(`cannot read ${file}: ${String(err)}`);
  }
  return parseJson(file, text);
}
