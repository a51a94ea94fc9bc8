// How well the memory plan (node/agent/memory-plan.ts) predicts a LoRA agent's peak: `npm run bench:memory --
// --model <dir> [--rows 1,4] [--tokens 256] [--own 64] [--steps 1]` runs LoRA train steps (rank 8 on q/k/v/o) per
// (rows, tokens) in a fresh process each, the head at `own` tokens a row (default all), and prints one JSON line per
// case: the plan's total and the process's peak resident memory, in GiB, and the plan's relative error.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { memoryNeed } from '../node/agent/memory-plan.ts';
import { loadCheckpoint } from '../node/agent/model/checkpoint.ts';
import { rng } from '../node/agent/model/random.ts';
import { padBatch } from '../node/agent/model/score.ts';
import { sftLoss } from '../node/agent/train/losses.ts';
import { Trainer } from '../node/agent/train/trainer.ts';

const LORA = { rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };
const gib = (bytes: number) => +(bytes / 2 ** 30).toFixed(2);

/** One case in this process: `steps` train steps, then the peak resident memory. */
async function measure(model: string, rows: number, tokens: number, own: number, steps: number): Promise<number> {
  const ckpt = loadCheckpoint(model);
  const next = rng(5);
  const ids = Array.from({ length: rows }, () =>
    Array.from({ length: tokens }, () => 3 + Math.floor(next() * (ckpt.config.vocabSize - 3))),
  );
  const { ids: inputIds, mask } = padBatch(ids);
  // The head and the loss at the last `own` log-prob indices of each row.
  const index = BigInt64Array.from({ length: rows * own }, (_, i) => BigInt(tokens - 1 - own + (i % own)));
  const lossMask = { dtype: 'float32' as const, shape: [rows, own], data: new Float32Array(rows * own).fill(1) };
  const trainer = Trainer.create(ckpt, {
    loss: sftLoss,
    trainable: { kind: 'lora', lora: LORA },
    session: { threads: 2 },
  });
  for (let i = 0; i < steps; i++)
    await trainer.trainStep({
      batch: rows,
      seq: tokens,
      inputIds,
      attentionMask: mask,
      at: { index, count: own },
      extra: { loss_mask: lossMask },
    });
  await trainer.release();
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      rows: { type: 'string', default: '1,4' },
      tokens: { type: 'string', default: '256' },
      own: { type: 'string' },
      steps: { type: 'string', default: '1' },
      child: { type: 'boolean' },
    },
  });
  if (!values.model) {
    console.error('bench:memory: --model <dir> names the checkpoint (sat-peer model init --like qwen3-0.6b makes one)');
    process.exit(2);
  }
  const list = (s: string) => s.split(',').map(Number);
  if (values.child) {
    const [rows, tokens, own, steps] = [values.rows, values.tokens, values.own!, values.steps].map(Number);
    process.stdout.write(`${await measure(values.model, rows, tokens, own, steps)}\n`);
    return;
  }
  const ckpt = loadCheckpoint(values.model);
  for (const tokens of list(values.tokens))
    for (const rows of list(values.rows)) {
      const own = Math.min(tokens - 1, values.own === undefined ? tokens - 1 : Number(values.own));
      const args = ['--import=tsx', process.argv[1], '--child', '--model', values.model, '--steps', values.steps];
      const r = spawnSync(
        process.execPath,
        [...args, '--rows', `${rows}`, '--tokens', `${tokens}`, '--own', `${own}`],
        {
          encoding: 'utf8',
        },
      );
      if (r.status !== 0) throw new Error(`the case ${rows} x ${tokens} failed: ${r.stderr}`);
      const measured = Number(r.stdout.trim());
      const planned = memoryNeed(ckpt, { lora: true, rows, tokens, own }).total;
      console.log(
        JSON.stringify({
          model: ckpt.dir,
          rows,
          tokens,
          own,
          steps: Number(values.steps),
          planned_gib: gib(planned),
          peak_rss_gib: gib(measured),
          error: +((planned - measured) / measured).toFixed(3),
        }),
      );
    }
}

await main();
