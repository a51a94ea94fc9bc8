// Writes a tiny byte-level BPE tokenizer (Hugging Face `tokenizer.json` + `tokenizer_config.json`) for the
// embedded tiny models: the same pipeline as Qwen3's (NFC, Qwen's split regex, ByteLevel pre-tokenizer,
// post-processor and decoder), 512 ids in all. Deterministic: rerunning it writes byte-identical files.
//
//   npx tsx tools/make-tiny-tokenizer.ts [outDir]      (default test/fixtures/tiny-tokenizer)
//
// Ids:  0 <|endoftext|> (pad)   1 <|im_start|>   2 <|im_end|> (eos)
//       3..258 the 256 byte-level symbols, byte b -> id 3 + b
//       259..511 the 253 tokens made by the merges learned below, in merge order
// Qwen's order of the three special tokens, placed first so that a checkpoint with pad 0, bos 1, eos 2
// (the shape of test data such as qwen3-tiny-a) lines up with them. No chat template: the embedded agents
// read chain transcripts in the plain layout (a chat rendering falls back to ChatML).
import fs from 'node:fs';
import path from 'node:path';

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const VOCAB_SIZE = 512;
const N_MERGES = VOCAB_SIZE - SPECIALS.length - 256;

// Qwen's pre-tokenizer split, written for JavaScript (no inline `(?i:...)`), used only to learn merges.
const QWEN_SPLIT =
  String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|` +
  String.raw`\s*[\r\n]+|\s+(?!\S)|\s+`;
const SPLIT_JS =
  /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

const CORPUS = `
The team of agents works on one problem at a time. Each agent reads the question and the answers
that came before it, then writes its own answer. The last answer is checked, and the whole team
shares the reward. What is 12 plus 30? The answer is 42. What is 7 times 8? The answer is 56.
Compute 100 minus 37. That gives 63. If a train leaves at 3 and arrives at 5, how long is the trip?
It takes 2 hours. There are 24 apples in 4 boxes, so each box holds 6 apples. Add the numbers
from 1 to 10 and you get 55. Half of 90 is 45, and a third of 99 is 33. The sum of 17 and 25 is 42.
Question: what is 9 + 6? Answer: 15. Question: what is 14 - 5? Answer: 9. Question: 3 * 4 = ?
Answer: 12. Question: 81 / 9 = ? Answer: 9. Let's think step by step. First, we write down what we
know. Then we find what we need. We should check the result before we give the final answer.
You are a helpful assistant. Please solve the following problem and put the final answer at the end.
The user asks a question, and the assistant answers it clearly and correctly. Thank you for the help!
Numbers can be even or odd. An even number is divisible by two; an odd number is not. The product of
two odd numbers is odd, and the sum of two odd numbers is even. A prime number has exactly two
divisors. The first primes are 2, 3, 5, 7, 11 and 13. When we multiply, we add the same number again
and again. When we divide, we split a number into equal parts. This is the way that simple arithmetic
works, and it is the same for every student in the world, in the morning and in the evening.
`;

// GPT-2's reversible map from bytes to printable characters (what ByteLevel pre-tokenizes into).
function bytesToUnicode(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(keep(b) ? b : 256 + extra++));
  return out;
}

// Plain BPE training: count every adjacent pair over the words, merge the most frequent (ties broken by
// the pair's text so the result never depends on Map order), repeat.
function learnMerges(text: string, byteSym: string[]): [string, string][] {
  const counts = new Map<string, number>();
  for (const piece of text.normalize('NFC').match(SPLIT_JS) ?? []) {
    const syms = [...new TextEncoder().encode(piece)].map((b) => byteSym[b]!).join(' ');
    counts.set(syms, (counts.get(syms) ?? 0) + 1);
  }
  let words = [...counts].map(([w, n]) => ({ syms: w.split(' '), n }));
  const merges: [string, string][] = [];
  const made = new Set<string>(byteSym);
  while (made.size < 256 + N_MERGES) {
    const pairs = new Map<string, number>();
    for (const { syms, n } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    if (pairs.size === 0) throw new Error(`corpus too small: only ${merges.length} merges possible`);
    const [best] = [...pairs].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0]!;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]); // two merges can make the same token ('ab'+'c', 'a'+'bc'): one id for both
    made.add(a + b);
    words = words.map(({ syms, n }) => {
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (syms[i] === a && syms[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(syms[i]!);
      }
      return { syms: next, n };
    });
  }
  return merges;
}

function main(outDir: string): void {
  const byteSym = bytesToUnicode();
  const merges = learnMerges(CORPUS, byteSym);
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((s, i) => (vocab[s] = i));
  byteSym.forEach((s, b) => (vocab[s] = SPECIALS.length + b));
  for (const [a, b] of merges) vocab[a + b] ??= Object.keys(vocab).length;
  if (Object.keys(vocab).length !== VOCAB_SIZE) throw new Error('vocab size is not 512');

  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((s, i) => special(s, i)),
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN_SPLIT }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const config = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(
      SPECIALS.map((s, i) => {
        const { id: _id, ...rest } = special(s, i);
        return [String(i), rest];
      }),
    ),
    bos_token: null,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: 512,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'tokenizer.json'), `${JSON.stringify(tokenizer, null, 1)}\n`);
  fs.writeFileSync(path.join(outDir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  console.log(
    `wrote ${outDir}: ${VOCAB_SIZE} ids, ${merges.length} merges (first: ${merges
      .slice(0, 5)
      .map((m) => m.join(' '))
      .join(', ')})`,
  );
}

main(process.argv[2] ?? 'test/fixtures/tiny-tokenizer');
