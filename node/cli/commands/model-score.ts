// `sat-peer model score --model <name|dir> (--ids 5,9,3 | --text "...")`: the teacher-forced log-prob of each
// token of one sequence given the ones before it, and the logits after the last one.
import { loadCheckpoint } from '../../agent/model/checkpoint.ts';
import { Scorer } from '../../agent/model/score.ts';
import { loadTokenizer, type Tokenizer } from '../../agent/model/tokenizer.ts';
import { UsageError } from '../errors.ts';
import type { Command } from '../command.ts';
import { MODEL_OPTIONS, idsFlag, modelFolder, optionalTokenizer, sessionOptions, stringFlag } from '../options.ts';

export interface SequenceScore {
  input_ids: number[];
  /** log p(input_ids[t+1] | input_ids[..t]), length n-1. */
  next_token_logprobs: number[];
  sum_logprob: number;
  /** Logits after the last token, vocabulary-sized. */
  last_logits: number[];
}

export async function scoreSequence(scorer: Scorer, ids: number[]): Promise<SequenceScore> {
  const {
    tokenLogprobs: [lps],
    lastLogits: [logits],
  } = await scorer.score([ids]);
  const next = Array.from(lps);
  return {
    input_ids: ids,
    next_token_logprobs: next,
    sum_logprob: next.reduce((a, b) => a + b, 0),
    last_logits: Array.from(logits),
  };
}

/** Log-softmax of `logits`. */
function logSoftmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
  return logits.map((l) => l - lse);
}

/** Rows under a header, numbers right-aligned and text left-aligned; the 'token' column only with a tokenizer. */
function table(head: string[], rows: string[][], withTokens: boolean): string[] {
  const keep = head.map((h) => withTokens || h !== 'token');
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    `  ${r
      .map((v, c) => (head[c] === 'token' ? v.padEnd(widths[c]) : v.padStart(widths[c])))
      .filter((_, c) => keep[c])
      .join('  ')
      .trimEnd()}`;
  return [line(head), ...rows.map(line)];
}

export function formatScore(s: SequenceScore, tok?: Tokenizer): string {
  const piece = (id: number) => (tok ? JSON.stringify(tok.decode([id])) : '');
  const rows = s.input_ids.map((id, t) => [
    String(t),
    String(id),
    piece(id),
    t === 0 ? '-' : s.next_token_logprobs[t - 1].toFixed(4),
  ]);
  const top = logSoftmax(s.last_logits)
    .map((lp, id) => ({ lp, id }))
    .sort((a, b) => b.lp - a.lp)
    .slice(0, 5);
  const topRows = top.map(({ lp, id }) => [String(id), piece(id), lp.toFixed(4), Math.exp(lp).toFixed(4)]);
  const n = s.next_token_logprobs.length;
  return [
    ...table(['pos', 'id', 'token', 'log p'], rows, tok !== undefined),
    `sum log p ${s.sum_logprob.toFixed(4)} over ${n} predicted ` +
      `token${n === 1 ? '' : 's'}${n ? ` (mean ${(s.sum_logprob / n).toFixed(4)})` : ''}`,
    '',
    'top 5 next tokens:',
    ...table(['id', 'token', 'log p', 'p'], topRows, tok !== undefined),
  ].join('\n');
}

export const modelScoreCommand: Command = {
  name: 'model score',
  summary: "score a token sequence teacher-forced: each token's log-prob and the next token's logits",
  usage:
    'sat-peer model score --model <name|dir> (--ids 5,9,3 | --text "...") [--offline] [--json] [--device cpu|cuda] ' +
    '[--threads N]',
  args: [],
  options: {
    model: MODEL_OPTIONS.model,
    offline: MODEL_OPTIONS.offline,
    ids: { type: 'string', value: '<ids>', description: 'the sequence as comma-separated token ids' },
    text: {
      type: 'string',
      value: '<text>',
      description: "the sequence as text, tokenized by the checkpoint's tokenizer (nothing added)",
    },
    device: MODEL_OPTIONS.device,
    threads: MODEL_OPTIONS.threads,
  },
  async run({ options, json }) {
    const spec = stringFlag(options, 'model', true);
    const ids = stringFlag(options, 'ids');
    const text = stringFlag(options, 'text');
    if ((ids === undefined) === (text === undefined))
      throw new UsageError('give the sequence as exactly one of --ids or --text');
    const session = sessionOptions(options);
    const ckpt = loadCheckpoint(await modelFolder(spec, options));
    const tok = text !== undefined ? loadTokenizer(ckpt.dir) : optionalTokenizer(ckpt.dir);
    const input = text !== undefined ? tok!.encode(text) : idsFlag('ids', ids!);
    const scorer = new Scorer(ckpt, session);
    let result: SequenceScore;
    try {
      result = await scoreSequence(scorer, input);
    } finally {
      await scorer.release();
    }
    process.stdout.write(`${json ? JSON.stringify(result) : formatScore(result, tok)}\n`);
  },
};
