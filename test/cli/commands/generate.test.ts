// `sat-peer generate`, run through the real bin against the reference fixture's greedy continuation.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadTokenizer } from '../../../node/agent/model/tokenizer.ts';
import { FIXTURE, fixtureWithTokenizer, oneLine, sat } from '../run-cli.ts';

const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8'));
const GREEDY: { prompt_ids: number[]; new_tokens: number[]; step_logprobs: number[] } = expected.greedy;
const PROMPT = GREEDY.prompt_ids.join(',');

const TOKENIZED = fixtureWithTokenizer('sat-generate-');
const tok = loadTokenizer(TOKENIZED);
test.after.always(() => fs.rmSync(TOKENIZED, { recursive: true, force: true }));

/** Runs `generate --json` and returns the parsed object, failing the test on a non-zero exit. */
function generate(t: ExecutionContext, ...args: string[]) {
  const r = sat('generate', ...args, '--json');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trimEnd().split('\n').length, 1, r.stdout);
  return JSON.parse(r.stdout);
}

test('greedy --prompt-ids --json reproduces the reference continuation exactly', (t) => {
  const out = generate(t, '--model', FIXTURE, '--prompt-ids', PROMPT, '--max-new-tokens', '8');
  t.deepEqual(Object.keys(out).sort(), ['finish_reason', 'logprobs', 'prompt_ids', 'tokens', 'tokens_per_s']); // no tokenizer: no text
  t.deepEqual(out.prompt_ids, GREEDY.prompt_ids);
  t.deepEqual(out.tokens, GREEDY.new_tokens);
  out.logprobs.forEach((lp: number, i: number) =>
    t.true(Math.abs(lp - GREEDY.step_logprobs[i]) < 1e-4, `step ${i}: ${lp} vs ${GREEDY.step_logprobs[i]}`),
  );
  t.is(out.finish_reason, 'length');
  t.true(out.tokens_per_s > 0);
});

test('sampling is reproducible by --seed and changes with it', (t) => {
  const run = (seed: string) =>
    generate(
      t,
      '--model',
      FIXTURE,
      '--prompt-ids',
      PROMPT,
      '--max-new-tokens',
      '12',
      '--temperature',
      '1',
      '--top-k',
      '50',
      '--top-p',
      '0.95',
      '--seed',
      seed,
    ).tokens;
  const a = run('7');
  t.is(a.length, 12);
  t.deepEqual(run('7'), a);
  t.notDeepEqual(run('8'), a);
  t.notDeepEqual(a.slice(0, 8), GREEDY.new_tokens); // sampled, not greedy
});

test('--prompt --chat wraps the prompt in the chat template and returns the decoded text', (t) => {
  const out = generate(t, '--model', TOKENIZED, '--prompt', 'What is 2+3?', '--chat', '--max-new-tokens', '6');
  t.deepEqual(
    out.prompt_ids,
    tok.encode(tok.applyChatTemplate([{ role: 'user', content: 'What is 2+3?' }], { addGenerationPrompt: true })),
  );
  t.is(out.prompt_ids.at(-1), tok.encode('\n')[0]); // ends with '<|im_start|>assistant\n'
  t.true(out.tokens.length >= 1 && out.tokens.length <= 6);
  t.is(typeof out.text, 'string');
  t.is(out.text, tok.decode(out.tokens, { skipSpecialTokens: true }));
  // Without --chat the prompt is the bare text.
  t.deepEqual(
    generate(t, '--model', TOKENIZED, '--prompt', 'What is 2+3?', '--max-new-tokens', '1').prompt_ids,
    tok.encode('What is 2+3?'),
  );
});

test('human output: the decoded continuation on stdout, a one-line summary on stderr', (t) => {
  const r = sat('generate', '--model', TOKENIZED, '--prompt-ids', PROMPT, '--max-new-tokens', '8');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${tok.decode(GREEDY.new_tokens, { skipSpecialTokens: true })}\n`);
  t.regex(r.stderr, /^8 tokens in [\d.]+ s \([\d.]+ tokens\/s\), finish: length[^\n]*\n$/);
  // Without a tokenizer the ids are printed.
  const ids = sat('generate', '--model', FIXTURE, '--prompt-ids', PROMPT, '--max-new-tokens', '8');
  t.is(ids.code, 0, ids.stderr);
  t.is(ids.stdout, `${GREEDY.new_tokens.join(',')}\n`);
});

test('--stop ends the generation once the continuation contains the string', (t) => {
  const stop = tok.decode([GREEDY.new_tokens[1]]);
  t.false(tok.decode([GREEDY.new_tokens[0]]).includes(stop));
  const out = generate(
    t,
    '--model',
    TOKENIZED,
    '--prompt-ids',
    PROMPT,
    '--max-new-tokens',
    '8',
    '--stop',
    `zzzz,${stop}`,
  );
  t.deepEqual(out.tokens, GREEDY.new_tokens.slice(0, 2));
  t.is(out.finish_reason, 'stop');
});

const usage: [string[], RegExp][] = [
  [['--max-new-tokens=-1'], /--max-new-tokens must be an integer >= 1, got -1/],
  [['--max-new-tokens', 'ten'], /--max-new-tokens must be an integer, got 'ten'/],
  [['--temperature=-0.5'], /--temperature must be a number >= 0, got -0\.5/],
  [['--temperature', '-1'], /--temperature must be a number >= 0, got -1/],
  [['--max-new-tokens', '-.5'], /--max-new-tokens must be an integer, got '-\.5'/],
  [['--top-p', '0'], /--top-p must be a number > 0 and <= 1, got 0/],
  [['--top-p', '1.5'], /--top-p must be a number > 0 and <= 1, got 1\.5/],
  [['--top-k', '2.5'], /--top-k must be an integer, got '2\.5'/],
  [['--seed', 'abc'], /--seed must be an integer, got 'abc'/],
  [['--device', 'tpu'], /--device must be cpu or cuda/],
  [['--chat'], /--chat needs --prompt/],
  [['--prompt', 'hi'], /exactly one of --prompt or --prompt-ids/],
];
for (const [args, message] of usage) {
  test(`usage error: generate ${args.join(' ')} -> exit 2, one line`, (t) => {
    const r = sat('generate', '--model', FIXTURE, '--prompt-ids', '1,2', ...args);
    t.is(r.code, 2);
    t.is(r.stdout, '');
    oneLine(t, r.stderr, new RegExp(`${message.source}.* \\(see sat-peer --help\\)$`));
  });
}

test('a prompt id outside the vocabulary: exit 2, one line, no stack', (t) => {
  const r = sat('generate', '--model', FIXTURE, '--prompt-ids', '5,9999');
  t.is(r.code, 2);
  t.is(r.stdout, '');
  oneLine(t, r.stderr, /token id 9999 is out of range/);
});

test('--prompt on a checkpoint without a tokenizer: exit 2, one line naming tokenizer.json', (t) => {
  const r = sat('generate', '--model', FIXTURE, '--prompt', 'hello');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /tokenizer\.json/);
});

test('--model takes a model name as start does', (t) => {
  const out = generate(t, '--model', 'tiny-weak', '--offline', '--prompt-ids', '1,2', '--max-new-tokens', '2');
  t.is(out.tokens.length, 2);
});
