// A small team for the sim's tests: the demo's weak agent in both slots of a two-step chain, six
// prompts x four samples a stage, forty held-out problems sampled twice each after a stage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../cli/run-cli.ts';

export const DEMO = path.join(ROOT, 'models/demo');

/** A fresh folder with the team's data and its config (`stages` stages); the config file's path. */
export function smallTeam(stages = 2): { dir: string; config: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sat-sim-'));
  fs.copyFileSync(path.join(DEMO, 'train.jsonl'), path.join(dir, 'train.jsonl'));
  fs.writeFileSync(path.join(dir, 'test.jsonl'), fs.readFileSync(path.join(DEMO, 'test.jsonl'), 'utf8').split('\n').slice(0, 40).join('\n'));
  const config = path.join(dir, 'team.yaml');
  fs.writeFileSync(config, `
seed: 11
dataset: { train_path: train.jsonl, test_path: test.jsonl }
data: { train_batch_size: 6, max_response_length: 24 }
generation: { temperature: 0.7, top_p: 1.0 }
sat:
  group_size: 4
  scheduler: { mode: random }
  agents: [{ name: first, path: ${DEMO}/tiny-weak }, { name: second, path: ${DEMO}/tiny-weak }]
training: { learning_rate: 0.0003, num_stages: ${stages}, lora: null }
evaluation: { num_samples_per_agent: 2 }
logging: { save_dir: train-run }
`);
  return { dir, config };
}
