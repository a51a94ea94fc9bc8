// A real-size team on this machine: two peers of the Qwen3-0.6B shape (sat-peer model init, random weights,
// the real Qwen3 tokenizer, chat turns) train with LoRA for two stages, and a newcomer of the same shape takes
// the second slot over through Stage-0 at the second stage. Every peer's peak memory is within 20% of its plan.
// Minutes of work: two 1.2 GB checkpoints, three peer processes of 2-6 GiB.
import test from 'ava';
import path from 'node:path';
import { demoTeamFolder, sat } from '../cli/run-cli.ts';

test('two peers of the Qwen3-0.6B shape run two stages, a newcomer enters through Stage-0, each within its memory plan', (t) => {
  t.timeout(1_500_000);
  const { dir, config } = demoTeamFolder(
    'sat-real-size-',
    1,
    `
seed: 7
dataset: { train_path: train.jsonl, test_path: test.jsonl }
data: { train_batch_size: 2, max_response_length: 16 }
generation: { temperature: 0.7, top_p: 1.0 }
sat:
  group_size: 2
  agents: [{ name: first, path: ./q06 }, { name: second, path: ./q06 }]
evaluation: { num_samples_per_agent: 1 }
training: { learning_rate: 0.0001, warmup_steps: 0, num_stages: 2, lora: { rank: 8, alpha: 16, targets: [q_proj, v_proj] } }
logging: { save_dir: train-run }
`,
  );
  for (const [name, seed] of [
    ['q06', '1'],
    ['q06-newcomer', '2'],
  ]) {
    const init = sat('model', 'init', '--like', 'qwen3-0.6b', '--seed', seed, '--out', path.join(dir, name));
    t.is(init.code, 0, init.stderr);
  }
  const sim = sat(
    'sim',
    '--config',
    config,
    '--out',
    path.join(dir, 'sim'),
    '--threads',
    '1',
    '--upgrade',
    `1=${path.join(dir, 'q06-newcomer')}@2`,
    '--json',
  );
  t.is(sim.code, 0, sim.stderr);
  const summary = JSON.parse(sim.stdout.trim().split('\n').at(-1)!);
  t.is(summary.stages.length, 2);
  t.is(summary.peers, 3);
  const second = summary.stages[1].agents.find((a: { slot: number }) => a.slot === 1);
  t.truthy(second.stage0, 'the newcomer entered through Stage-0');
  t.true(second.stage0.delta >= second.stage0.deltaFrom, 'its ball grew, or held');
  t.is(summary.memory.length, 3, 'every peer reported its memory');
  t.log(`${summary.seconds} s; stages ${summary.stages.map((s: { seconds: number }) => s.seconds).join(', ')} s`);
  t.log(JSON.stringify(summary.memory));
  for (const m of summary.memory as { peer: string; peak_mb: number; planned_mb: number }[])
    t.true(
      Math.abs(m.peak_mb - m.planned_mb) <= 0.2 * m.planned_mb,
      `${m.peer}: peak ${m.peak_mb} MiB against a plan of ${m.planned_mb} MiB`,
    );
});
