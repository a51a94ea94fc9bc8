import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenizerError } from '../../../node/agent/errors.ts';
import { loadTokenizer, type ChatMessage, type Tokenizer } from '../../../node/agent/model/tokenizer.ts';
import { tempDir } from '../../temp-dir.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const QWEN3 = path.join(ROOT, 'test/fixtures/qwen3-tokenizer');
const TINY = path.join(ROOT, 'test/fixtures/tiny-tokenizer');

let qwen: Tokenizer | undefined;
const qwen3 = () => (qwen ??= loadTokenizer(QWEN3));

const UNICODE_TEXTS = [
  'Hello world',
  'Héllo wörld — naïve café, Straße',
  '你好，世界！ こんにちは 안녕하세요',
  'emoji 🙂👍🏽 and math ∑ x² ≤ ∞',
  '  leading spaces, tabs\tand\nnew\n\nlines  ',
  'What is 12+30? The answer is 42.',
];

function tmpDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = tempDir('tokenizer-test-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A folder with the tiny tokenizer.json and the given extra files. */
function tinyWith(t: { teardown: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = tmpDir(t);
  fs.copyFileSync(path.join(TINY, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

// ---- Qwen3 (the real tokenizer files) ----

test('qwen3: known ids', (t) => {
  const tok = qwen3();
  t.deepEqual(tok.encode('Hello world'), [9707, 1879]);
  t.deepEqual(tok.encode('<|im_start|>'), [151644]);
  t.deepEqual(tok.encode('<|im_start|>user\nhi<|im_end|>'), [151644, 872, 198, 6023, 151645]);
});

test('qwen3: decode(encode(x)) === x for unicode text', (t) => {
  const tok = qwen3();
  for (const text of UNICODE_TEXTS) t.is(tok.decode(tok.encode(text)), text, JSON.stringify(text));
});

test('qwen3: decode can skip special tokens', (t) => {
  const tok = qwen3();
  const ids = tok.encode('<|im_start|>assistant\n5<|im_end|>');
  t.is(tok.decode(ids), '<|im_start|>assistant\n5<|im_end|>');
  t.is(tok.decode(ids, { skipSpecialTokens: true }), 'assistant\n5');
});

test('qwen3: eos, pad, vocab size and hash come from the checkpoint files', (t) => {
  const tok = qwen3();
  t.deepEqual(tok.eosTokenIds, [151645]); // tokenizer_config.json: eos_token '<|im_end|>'
  t.is(tok.padTokenId, 151643); // pad_token '<|endoftext|>'
  t.is(tok.vocabSize, 151669); // 151643 BPE tokens + 26 added tokens
  const bytes = fs.readFileSync(path.join(QWEN3, 'tokenizer.json'));
  t.is(tok.hash, createHash('sha256').update(bytes).digest('hex'));
  t.is(tok.hash, 'aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4');
});

// Expected strings rendered from the same template by Python Jinja2 (as transformers configures it).
test('qwen3: chat template for one user message', (t) => {
  const tok = qwen3();
  const user: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
  t.is(
    tok.applyChatTemplate(user, { addGenerationPrompt: true }),
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  );
  t.is(
    tok.applyChatTemplate(user, { addGenerationPrompt: true, enableThinking: false }),
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  );
  t.is(tok.applyChatTemplate(user), '<|im_start|>user\nHi<|im_end|>\n');
});

test('qwen3: chat template drops the reasoning of earlier turns only', (t) => {
  const tok = qwen3();
  const chat: ChatMessage[] = [
    { role: 'system', content: 'You add numbers.' },
    { role: 'user', content: '2+3?' },
    { role: 'assistant', content: '<think>\nsmall sum\n</think>\n\n5' },
  ];
  t.is(
    tok.applyChatTemplate([...chat, { role: 'user', content: 'And 4+4?' }], { addGenerationPrompt: true }),
    '<|im_start|>system\nYou add numbers.<|im_end|>\n<|im_start|>user\n2+3?<|im_end|>\n' +
      '<|im_start|>assistant\n5<|im_end|>\n<|im_start|>user\nAnd 4+4?<|im_end|>\n<|im_start|>assistant\n',
  );
  t.is(
    tok.applyChatTemplate(chat),
    '<|im_start|>system\nYou add numbers.<|im_end|>\n<|im_start|>user\n2+3?<|im_end|>\n' +
      '<|im_start|>assistant\n<think>\nsmall sum\n</think>\n\n5<|im_end|>\n',
  );
});

// ---- the tiny tokenizer of the embedded models ----

test('tiny: 512 ids, special tokens at 0..2', (t) => {
  const tok = loadTokenizer(TINY);
  t.is(tok.vocabSize, 512);
  t.deepEqual(tok.encode('<|endoftext|>'), [0]);
  t.deepEqual(tok.encode('<|im_start|>'), [1]);
  t.deepEqual(tok.encode('<|im_end|>'), [2]);
  t.deepEqual(tok.eosTokenIds, [2]);
  t.is(tok.padTokenId, 0);
  t.not(tok.hash, qwen3().hash);
});

test('tiny: round trip, and special tokens stay single ids inside text', (t) => {
  const tok = loadTokenizer(TINY);
  for (const text of UNICODE_TEXTS) t.is(tok.decode(tok.encode(text)), text, JSON.stringify(text));
  const ids = tok.encode('<|im_start|>user\nWhat is 9 + 6?<|im_end|>\n');
  t.is(ids[0], 1);
  t.is(ids.filter((id) => id === 2).length, 1);
  t.true(ids.every((id) => id >= 0 && id < 512));
  t.is(tok.decode(ids, { skipSpecialTokens: true }), 'user\nWhat is 9 + 6?\n');
});

test('tiny: the learned merges compress text like the corpus', (t) => {
  const tok = loadTokenizer(TINY);
  const text = 'The answer is the sum of the numbers, and the team shares the reward.';
  const ids = tok.encode(text);
  t.true(ids.length < Buffer.byteLength(text) / 2, `${ids.length} tokens for ${Buffer.byteLength(text)} bytes`);
  t.true(
    ids.some((id) => id >= 259),
    'uses merged tokens',
  );
  t.deepEqual(tok.encode('42'), [3 + 0x34, 3 + 0x32]); // digits split one by one, byte b -> id 3 + b
});

test('tiny: chat template is ChatML', (t) => {
  const tok = loadTokenizer(TINY);
  const chat: ChatMessage[] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: '3 * 4 = ?' },
  ];
  t.is(
    tok.applyChatTemplate(chat, { addGenerationPrompt: true }),
    '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n3 * 4 = ?<|im_end|>\n<|im_start|>assistant\n',
  );
});

test('tiny: the fixture is what tools/make-tiny-tokenizer.ts writes', (t) => {
  const out = tmpDir(t);
  execFileSync(process.execPath, ['--import=tsx', path.join(ROOT, 'tools/make-tiny-tokenizer.ts'), out], { cwd: ROOT });
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    t.true(fs.readFileSync(path.join(out, name)).equals(fs.readFileSync(path.join(TINY, name))), name);
  }
});

// ---- folders without a template, other eos sources, errors ----

test('no chat_template: falls back to ChatML; no tokenizer_config.json: no eos, no pad', (t) => {
  const dir = tinyWith(t, { 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>' }) });
  const tok = loadTokenizer(dir);
  t.is(
    tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }),
    '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
  );
  t.is(tok.applyChatTemplate([{ role: 'assistant', content: 'ok' }]), '<|im_start|>assistant\nok<|im_end|>\n');
  const bare = loadTokenizer(tinyWith(t, {}));
  t.deepEqual(bare.eosTokenIds, []);
  t.is(bare.padTokenId, undefined);
  t.deepEqual(bare.encode('<|im_end|>'), [2]);
});

test('chat_template.jinja wins over tokenizer_config.json, and sees bos/eos tokens', (t) => {
  const dir = tinyWith(t, {
    'tokenizer_config.json': JSON.stringify({ eos_token: { content: '<|im_end|>' }, chat_template: 'config' }),
    'chat_template.jinja':
      '{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}' +
      '{% if add_generation_prompt %}>{% endif %}{% if enable_thinking is defined %}{{ enable_thinking }}{% endif %}',
  });
  const tok = loadTokenizer(dir);
  t.is(tok.applyChatTemplate([{ role: 'user', content: 'a' }]), '[user]a<|im_end|>');
  t.is(
    tok.applyChatTemplate([{ role: 'user', content: 'a' }], { addGenerationPrompt: true, enableThinking: true }),
    '[user]a<|im_end|>>true',
  );
  t.deepEqual(tok.eosTokenIds, [2]);
});

test('eos ids of generation_config.json and config.json join the tokenizer eos', (t) => {
  const dir = tinyWith(t, {
    'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>' }),
    'generation_config.json': JSON.stringify({ eos_token_id: [2, 0] }),
    'config.json': JSON.stringify({ eos_token_id: 1 }),
  });
  t.deepEqual(loadTokenizer(dir).eosTokenIds, [2, 0, 1]);
  const bad = tinyWith(t, { 'config.json': JSON.stringify({ eos_token_id: 151645 }) });
  const err = t.throws(() => loadTokenizer(bad), { instanceOf: TokenizerError });
  t.regex(err.message, /config\.json: eos_token_id 151645/);
});

test('errors: missing tokenizer.json names the folder', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
  const err = t.throws(() => loadTokenizer(dir), { instanceOf: TokenizerError });
  t.is(err.name, 'TokenizerError');
  t.true(err.message.includes(dir));
  t.regex(err.message, /needs a tokenizer\.json/);
});

test('errors: corrupt JSON names the file', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"version": "1.0", "model": {');
  let err = t.throws(() => loadTokenizer(dir), { instanceOf: TokenizerError });
  t.true(err.message.includes(path.join(dir, 'tokenizer.json')), err.message);

  const cfg = tinyWith(t, { 'tokenizer_config.json': '{ eos_token: <|im_end|> }' });
  err = t.throws(() => loadTokenizer(cfg), { instanceOf: TokenizerError });
  t.true(err.message.includes(path.join(cfg, 'tokenizer_config.json')), err.message);

  const arr = tmpDir(t);
  fs.writeFileSync(path.join(arr, 'tokenizer.json'), '[1, 2]');
  t.throws(() => loadTokenizer(arr), { instanceOf: TokenizerError, message: /not a JSON object/ });
});

test('errors: a bad or failing chat template', (t) => {
  const unparsable = tinyWith(t, {
    'tokenizer_config.json': JSON.stringify({ chat_template: '{% for m in messages %}' }),
  });
  t.throws(() => loadTokenizer(unparsable), { instanceOf: TokenizerError, message: /chat template does not parse/ });
  const raising = tinyWith(t, {
    'tokenizer_config.json': JSON.stringify({ chat_template: "{{ raise_exception('only user turns') }}" }),
  });
  const tok = loadTokenizer(raising);
  t.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }]), {
    instanceOf: TokenizerError,
    message: /chat template failed: only user turns/,
  });
});

test('a folder that does not exist is named as such, not as one without tokenizer.json', (t) => {
  const dir = path.join(tempDir('tok-'), 'no-such-checkpoint');
  t.throws(() => loadTokenizer(dir), {
    instanceOf: TokenizerError,
    message: `no such folder: ${dir}; give a checkpoint folder`,
  });
});
