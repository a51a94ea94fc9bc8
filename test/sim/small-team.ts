// A small team for the sim's tests: the demo's weak agent in both slots of a two-step chain, six
// prompts x four samples a stage (two of them held out to measure the stage), forty held-out problems
// sampled twice each after a stage.
import { DEMO, demoTeamFolder } from '../cli/run-cli.ts';

/** A fresh folder with the team's data and its config (`stages` stages); the config file's path. */
export function smallTeam(stages = 2): { dir: string; config: string } {
  return demoTeamFolder(
    'sat-sim-',
    40,
    `
seed: 11
dataset: { train_path: train.jsonl, test_path: test.jsonl }
data: { train_batch_size: 6, max_response_length: 24 }
generation: { temperature: 0.7, top_p: 1.0 }
certificate: { holdout: 0.34 }
sat:
  group_size: 4
  scheduler: { mode: random }
  agents: [{ name: first, path: ${DEMO}/tiny-weak }, { name: second, path: ${DEMO}/tiny-weak }]
training: { learning_rate: 0.0003, num_stages: ${stages}, lora: null }
evaluation: { num_samples_per_agent: 2 }
logging: { save_dir: train-run }
`,
  );
}
