// `sat-peer model score`, run through the real bin against the reference fixture.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadTokenizer } from '../../../node/agent/model/tokenizer.ts';
import { cudaAvailable } from '../../../node/gpu/ort.ts';
import { FIXTURE, fixtureWithTokenizer, oneLine, sat } from '../run-cli.ts';

const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8'));
const SEQ: {
  input_ids: number[];
  next_token_logprobs: number[];
  sum_logprob: number;
  last_logits: number[];
  last_argmax: number;
} = expected.sequences[1];

const TOKENIZED = fixtureWithTokenizer('sat-score-');
test.after.always(() => fs.rmSync(TOKENIZED, { recursive: true, force: true }));

function close(t: ExecutionContext, got: number[], want: number[], what: string, tol = 1e-4): void {
  t.is(got.length, want.length, `${what}: length`);
  const worst = got.reduce((m, g, i) => Math.max(m, Math.abs(g - want[i])), 0);
  t.true(worst < tol, `${what}: max |diff| ${worst}; first values ${got.slice(0, 4)} vs ${want.slice(0, 4)}`);
}

test('--ids --json: one object with the four snake_case fields, equal to the reference', (t) => {
  const r = sat('model', 'score', '--model', FIXTURE, '--ids', SEQ.input_ids.join(','), '--json');
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  t.is(r.stdout.trimEnd().split('\n').length, 1);
  const out = JSON.parse(r.stdout);
  t.deepEqual(Object.keys(out).sort(), ['input_ids', 'last_logits', 'next_token_logprobs', 'sum_logprob']);
  t.deepEqual(out.input_ids, SEQ.input_ids);
  close(t, out.next_token_logprobs, SEQ.next_token_logprobs, 'next_token_logprobs');
  t.true(Math.abs(out.sum_logprob - SEQ.sum_logprob) < 1e-4, `sum ${out.sum_logprob} vs ${SEQ.sum_logprob}`);
  t.is(out.last_logits.length, 512);
  close(t, out.last_logits, SEQ.last_logits, 'last_logits');
});

test('human output: a row per token with its log-prob, the sum, and the top-5 next tokens led by the argmax', (t) => {
  const r = sat('model', 'score', '--model', FIXTURE, '--ids', SEQ.input_ids.join(','));
  t.is(r.code, 0, r.stderr);
  const [table, rest] = r.stdout.split('\nsum log p ');
  const rows = table
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));
  t.deepEqual(
    rows.map((c) => Number(c[0])),
    SEQ.input_ids.map((_, i) => i),
  );
  t.deepEqual(
    rows.map((c) => Number(c[1])),
    SEQ.input_ids,
  );
  t.is(rows[0][2], '-');
  close(
    t,
    rows.slice(1).map((c) => Number(c[2])),
    SEQ.next_token_logprobs,
    'printed log-probs',
    1e-4 + 5e-5,
  );
  t.true(Math.abs(Number(rest.split(' ')[0]) - SEQ.sum_logprob) < 2e-4, rest);
  t.regex(rest, new RegExp(`^\\S+ over ${SEQ.input_ids.length - 1} predicted tokens`));
  const top = r.stdout.split('top 5 next tokens:\n')[1].trimEnd().split('\n');
  t.is(top.length, 6); // header + 5
  t.regex(top[1], new RegExp(`^\\s+${SEQ.last_argmax}\\s`));
});

test('--text tokenizes with the checkpoint tokenizer, adding nothing', (t) => {
  const text = 'hello world';
  const want = loadTokenizer(TOKENIZED).encode(text);
  t.true(want.length > 1);
  const r = sat('model', 'score', '--model', TOKENIZED, '--text', text, '--json');
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.deepEqual(out.input_ids, want);
  t.is(out.next_token_logprobs.length, want.length - 1);
  // The same ids given as --ids score the same.
  const byIds = JSON.parse(sat('model', 'score', '--model', TOKENIZED, '--ids', want.join(','), '--json').stdout);
  t.deepEqual(byIds, out);
  // With a tokenizer the human table shows the decoded pieces.
  const human = sat('model', 'score', '--model', TOKENIZED, '--text', text);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /\bpos\s+id\s+token\s+log p\n/);
  t.true(human.stdout.includes(JSON.stringify(loadTokenizer(TOKENIZED).decode([want[0]]))));
});

test('--text on a checkpoint without a tokenizer: exit 2, one line naming tokenizer.json', (t) => {
  const r = sat('model', 'score', '--model', FIXTURE, '--text', 'hello');
  t.is(r.code, 2);
  t.is(r.stdout, '');
  oneLine(t, r.stderr, /tokenizer\.json/);
});

test('a token id outside the vocabulary: exit 2, one line, no stack', (t) => {
  const r = sat('model', 'score', '--model', FIXTURE, '--ids', '5,512,3');
  t.is(r.code, 2);
  t.is(r.stdout, '');
  oneLine(t, r.stderr, /token id 512 is out of range: the vocabulary has 512 ids/);
});

const usage: [string[], RegExp][] = [
  [[], /exactly one of --ids or --text/],
  [['--ids', '1,2', '--text', 'hi'], /exactly one of --ids or --text/],
  [['--ids', '1,two'], /--ids must be comma-separated token ids.*'two'/],
  [['--ids', '1,2', '--device', 'tpu'], /--device must be cpu or cuda, got 'tpu'/],
  [['--ids', '1,2', '--threads', '0'], /--threads must be an integer >= 1/],
];
for (const [args, message] of usage) {
  test(`usage error: model score ${args.join(' ') || '(no sequence)'} -> exit 2`, (t) => {
    const r = sat('model', 'score', '--model', FIXTURE, ...args);
    t.is(r.code, 2);
    t.is(r.stdout, '');
    oneLine(t, r.stderr, new RegExp(`${message.source}.* \\(see sat-peer --help\\)$`));
  });
}

test('missing --model: exit 2', (t) => {
  const r = sat('model', 'score', '--ids', '1,2');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /missing --model/);
});

test('--device cuda: runs where the CUDA provider is installed, else exit 2 with the install command', (t) => {
  const r = sat('model', 'score', '--model', FIXTURE, '--ids', SEQ.input_ids.join(','), '--json', '--device', 'cuda');
  if (cudaAvailable()) {
    t.is(r.code, 0, r.stderr);
    close(t, JSON.parse(r.stdout).next_token_logprobs, SEQ.next_token_logprobs, 'next_token_logprobs on cuda', 1e-3);
  } else {
    t.is(r.code, 2);
    t.is(r.stdout, '');
    oneLine(
      t,
      r.stderr,
      /CUDA execution provider is not installed.*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install/,
    );
  }
});

test('--model takes a model name as start does', (t) => {
  const r = sat('model', 'score', '--model', 'tiny-weak', '--offline', '--ids', '1,2,3', '--json');
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout).next_token_logprobs.length, 2);
});
