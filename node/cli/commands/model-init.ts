// `sat-peer model init --like qwen3-0.6b --out <dir>`: a checkpoint with a published Qwen3 shape, random weights
// and the real Qwen3 tokenizer, written in bounded memory with a progress line. Its outputs are noise, but every
// real-size path (loading, memory, speed, the vocabulary-sized head) runs on it as on the published model.
import fs from 'node:fs';
import path from 'node:path';
import { QWEN3_SHAPES, shapeParameters, writeRandomCheckpoint } from '../../agent/model/random-checkpoint.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { numberFlag, printJson, stringFlag } from '../options.ts';

const QWEN3_TOKENIZER = new URL('../../../test/fixtures/qwen3-tokenizer/', import.meta.url).pathname;
const DTYPES = { bf16: 'bfloat16', f32: 'float32' } as const;

export const modelInitCommand: Command = {
  name: 'model init',
  summary: 'write a random-weight checkpoint with a published Qwen3 shape and the real Qwen3 tokenizer',
  usage: `sat-peer model init --like <${Object.keys(QWEN3_SHAPES).join('|')}> --out <dir> [--dtype bf16|f32] [--seed N]`,
  args: [],
  options: {
    like: {
      type: 'string',
      value: '<name>',
      description: `the shape to copy: ${Object.keys(QWEN3_SHAPES).join(', ')}`,
    },
    out: { type: 'string', value: '<dir>', description: 'the checkpoint folder to write (must not hold a checkpoint)' },
    dtype: { type: 'string', value: '<bf16|f32>', description: 'weight dtype (default bf16, as Qwen3 is published)' },
    seed: { type: 'string', value: '<n>', description: 'seed of the random weights (default 1)' },
  },
  run({ options, json }) {
    const like = stringFlag(options, 'like', true);
    const shape = QWEN3_SHAPES[like.toLowerCase()];
    if (!shape)
      throw new UsageError(`--like ${like}: not a known shape; use one of ${Object.keys(QWEN3_SHAPES).join(', ')}`);
    const out = path.resolve(stringFlag(options, 'out', true));
    if (fs.existsSync(path.join(out, 'model.safetensors')))
      throw new UsageError(`${out} already holds a checkpoint: remove it or choose another --out`);
    const rawDtype = stringFlag(options, 'dtype') ?? 'bf16';
    const dtype = DTYPES[rawDtype as keyof typeof DTYPES];
    if (!dtype) throw new UsageError(`--dtype ${rawDtype}: use bf16 or f32`);
    const seed = numberFlag(options, 'seed', 1, { integer: true, min: 0 });
    const t0 = Date.now();
    let shown = -1;
    writeRandomCheckpoint(out, shape, {
      dtype,
      seed,
      progress: (done, total) => {
        const pct = Math.floor((100 * done) / total);
        if (pct === shown || !process.stderr.isTTY) return;
        shown = pct;
        process.stderr.write(`\rwriting ${out}: ${(done / 2 ** 30).toFixed(2)} of ${(total / 2 ** 30).toFixed(2)} GiB`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      fs.copyFileSync(path.join(QWEN3_TOKENIZER, f), path.join(out, f));
    const params = shapeParameters(shape);
    const seconds = (Date.now() - t0) / 1000;
    const summary = { dir: out, like: like.toLowerCase(), dtype, parameters: params, seconds };
    if (json) return printJson(summary);
    process.stdout.write(
      `wrote ${out}: ${like} shape, ${params.toLocaleString('en-US')} parameters in ${dtype}, ${seconds.toFixed(1)} s\n`,
    );
  },
};
