// Runs the real bin, as a user would: a checkpoint of Qwen3-0.6B's published shape, written and read back.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadTokenizer } from '../../../node/agent/model/tokenizer.ts';
import { oneLine, sat } from '../run-cli.ts';
import { tempDir } from '../../temp-dir.ts';

test('model init --like qwen3-0.6b writes the published shape in bfloat16 with the real tokenizer, and it samples as it scores', (t) => {
  const out = path.join(tempDir('sat-init-'), 'qwen3-0.6b');
  const r = sat('model', 'init', '--like', 'qwen3-0.6b', '--out', out, '--json');
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout), { dir: out, like: 'qwen3-0.6b', dtype: 'bfloat16', parameters: 596_049_920 });
  const info = JSON.parse(sat('model', 'info', out, '--json').stdout);
  t.like(info, {
    vocabSize: 151_936,
    hiddenSize: 1024,
    intermediateSize: 3072,
    numLayers: 28,
    numHeads: 16,
    numKvHeads: 8,
    headDim: 128,
    ropeTheta: 1_000_000,
    tieWordEmbeddings: true,
    eosTokenIds: [151_645],
    dtypes: ['BF16'],
    parameters: 596_049_920,
    sizeOnDisk: fs.statSync(path.join(out, 'model.safetensors')).size,
  });
  t.true(info.sizeOnDisk > 1.19e9 && info.sizeOnDisk < 1.2e9, `${info.sizeOnDisk} bytes`);
  // The real Qwen3 tokenizer: 'Hello world' and the chat markers have their published ids.
  const tok = loadTokenizer(out);
  t.deepEqual(tok.encode('Hello world'), [9707, 1879]);
  t.deepEqual(tok.encode('<|im_start|>'), [151_644]);

  // At this size the frozen weights are fed from the file, not embedded: what is sampled is what scoring gives.
  const gen = sat(
    'generate',
    '--model',
    out,
    '--prompt',
    'Hello',
    '--max-new-tokens',
    '6',
    '--temperature',
    '1',
    '--json',
  );
  t.is(gen.code, 0, gen.stderr);
  const { prompt_ids: prompt, tokens, logprobs } = JSON.parse(gen.stdout);
  t.is(tokens.length, 6);
  const ids = [...prompt, ...tokens].join(',');
  const scored = JSON.parse(sat('model', 'score', '--model', out, '--ids', ids, '--json').stdout);
  const teacher = scored.next_token_logprobs.slice(prompt.length - 1);
  logprobs.forEach((lp: number, i: number) =>
    t.true(Math.abs(lp - teacher[i]) < 1e-4, `token ${i}: ${lp} vs ${teacher[i]}`),
  );

  const again = sat('model', 'init', '--like', 'qwen3-0.6b', '--out', out);
  t.is(again.code, 2);
  oneLine(t, again.stderr, /already holds a checkpoint: remove it or choose another --out/);
});

test('model init: an unknown shape or dtype, or a missing --out, is one clear line', (t) => {
  const out = path.join(tempDir('sat-init-bad-'), 'm');
  let r = sat('model', 'init', '--like', 'qwen3-0.5b', '--out', out);
  t.is(r.code, 2);
  oneLine(
    t,
    r.stderr,
    /--like qwen3-0\.5b: not a known shape; use one of qwen3-0\.6b, qwen3-1\.7b, qwen3-4b, qwen3-8b/,
  );
  r = sat('model', 'init', '--like', 'qwen3-0.6b', '--out', out, '--dtype', 'fp8');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /--dtype fp8: use bf16 or f32/);
  r = sat('model', 'init', '--like', 'qwen3-0.6b');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /--out/);
  t.false(fs.existsSync(out), 'nothing was written');
});
