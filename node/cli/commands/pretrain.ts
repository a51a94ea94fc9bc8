// `sat-peer pretrain --out <dir>`: makes an embedded agent — a tiny Qwen3 taught the synthetic chain task
// by SFT — and, with --data-dir, writes the task's train/test split as JSONL for `sat-peer train`.
import fs from 'node:fs';
import path from 'node:path';
import { writeJsonl } from '../../tasks/dataset.ts';
import { pretrain } from '../../tasks/pretrain.ts';
import { makeChainProblems, splitTrainTest } from '../../tasks/synthetic-task.ts';
import { UsageError } from '../errors.ts';
import type { Command } from '../command.ts';
import { MODEL_OPTIONS, numberFlag, stringFlag, printJson } from '../options.ts';

const DEFAULT_TOKENIZER = new URL('../../../models/tiny-tokenizer/', import.meta.url).pathname;

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'make a tiny embedded agent: a Qwen3 trained from scratch on the synthetic chain task',
  usage: 'sat-peer pretrain --out <dir> [--hidden N] [--layers N] [--steps N] [--data-dir <dir>] [--json]',
  args: [],
  options: {
    out: { type: 'string', value: '<dir>', description: 'checkpoint folder to write (replaced when training ends)' },
    hidden: { type: 'string', value: '<n>', description: 'hidden size, a multiple of 8 (default 64)' },
    layers: { type: 'string', value: '<n>', description: 'decoder layers (default 2)' },
    steps: { type: 'string', value: '<n>', description: 'SFT steps (default 600)' },
    batch: { type: 'string', value: '<n>', description: 'sequences per step (default 32)' },
    lr: { type: 'string', value: '<x>', description: 'peak learning rate (default 0.003)' },
    seed: { type: 'string', value: '<n>', description: 'seed of the initial weights and the batches (default 1)' },
    turns: { type: 'string', value: '<n>', description: 'steps per problem = turns of the chain (default 2)' },
    'max-value': { type: 'string', value: '<n>', description: 'largest number in a problem (default 50)' },
    problems: { type: 'string', value: '<n>', description: 'distinct problems generated (default 3000; 10% held out)' },
    'task-seed': {
      type: 'string',
      value: '<s>',
      description: "seed of the problems and the split (default 'sat-demo')",
    },
    tokenizer: {
      type: 'string',
      value: '<dir>',
      description: 'folder with the tokenizer.json (default models/tiny-tokenizer)',
    },
    'data-dir': {
      type: 'string',
      value: '<dir>',
      description: 'also write train.jsonl and test.jsonl of the task here',
    },
    threads: MODEL_OPTIONS.threads,
  },
  async run({ options, json }) {
    const out = path.resolve(stringFlag(options, 'out', true));
    const hidden = numberFlag(options, 'hidden', 64, { integer: true, min: 8 });
    if (hidden % 8)
      throw new UsageError(`--hidden must be a multiple of 8 (4 heads of an even size, for RoPE), got ${hidden}`);
    const layers = numberFlag(options, 'layers', 2, { integer: true, min: 1 });
    const steps = numberFlag(options, 'steps', 600, { integer: true, min: 1 });
    const batch = numberFlag(options, 'batch', 32, { integer: true, min: 1 });
    const lr = numberFlag(options, 'lr', 3e-3, { above: 0 });
    const seed = numberFlag(options, 'seed', 1, { integer: true, min: 0 });
    const turns = numberFlag(options, 'turns', 2, { integer: true, min: 1 });
    const maxValue = numberFlag(options, 'max-value', 50, { integer: true, min: 2 });
    const count = numberFlag(options, 'problems', 3000, { integer: true, min: 10 });
    const threads = numberFlag(options, 'threads', 0, { integer: true, min: 1 });
    const taskSeed = stringFlag(options, 'task-seed') ?? 'sat-demo';
    const tokenizerDir = path.resolve(stringFlag(options, 'tokenizer') ?? DEFAULT_TOKENIZER);
    if (!fs.existsSync(path.join(tokenizerDir, 'tokenizer.json')))
      throw new UsageError(`--tokenizer ${tokenizerDir} has no tokenizer.json`);

    const { train, test } = splitTrainTest(
      makeChainProblems({ count, steps: turns, seed: taskSeed, maxValue }),
      0.1,
      taskSeed,
    );
    const dataDir = stringFlag(options, 'data-dir');
    if (dataDir) {
      writeJsonl(
        path.join(dataDir, 'train.jsonl'),
        train.map(({ id, prompt, answer }) => ({ id, prompt, answer })),
      );
      writeJsonl(
        path.join(dataDir, 'test.jsonl'),
        test.map(({ id, prompt, answer }) => ({ id, prompt, answer })),
      );
    }
    const started = Date.now();
    const result = await pretrain({
      out,
      tokenizerDir,
      train,
      test,
      steps,
      batch,
      lr,
      seed,
      ...(threads ? { threads } : {}),
      model: {
        hiddenSize: hidden,
        intermediateSize: hidden * 3,
        numLayers: layers,
        numHeads: 4,
        numKvHeads: 2,
        headDim: hidden / 4,
      },
      onProgress: ({ step, loss }) => {
        if (json || (step % 25 && step !== steps)) return;
        const done = Math.round((30 * step) / steps);
        process.stderr.write(
          `\r[${'#'.repeat(done)}${'.'.repeat(30 - done)}] step ${step}/${steps} loss ${loss.toFixed(4)} ` +
            `${((Date.now() - started) / 1000).toFixed(0)} s`,
        );
      },
    });
    const summary = {
      out,
      ...result,
      trainProblems: train.length,
      testProblems: test.length,
      seconds: (Date.now() - started) / 1000,
    };
    if (json) return printJson(summary);
    process.stderr.write('\n');
    process.stdout.write(
      `wrote ${out}: ${result.parameters.toLocaleString('en-US')} parameters, final loss ` +
        `${result.finalLoss.toFixed(4)}, greedy chain accuracy on ${test.length} held-out problems ` +
        `${(100 * result.testAccuracy).toFixed(1)}%\n`,
    );
  },
};
