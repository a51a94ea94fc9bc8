// `sat-peer train` through the real bin on the embedded weak agents: one stage writes a log row and a
// checkpoint, --resume continues with the next stage from the saved state, a second fresh run into the
// same folder is refused, and a kill mid-stage leaves the last complete stage loadable.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEMO, ROOT, demoTeamFolder, oneLine, sat } from '../run-cli.ts';

/** A small run of the demo team: 4 prompts x 2 samples, 20 held-out problems. */
function setup(): { dir: string; config: string } {
  return demoTeamFolder(
    'sat-train-',
    20,
    `
seed: 5
dataset: { train_path: train.jsonl, test_path: test.jsonl }
data: { train_batch_size: 4, max_response_length: 24 }
sat:
  group_size: 2
  agents: [{ name: first, path: ${DEMO}/tiny-weak }, { name: second, path: ${DEMO}/tiny-weak }]
training: { learning_rate: 0.001, lora: null }
logging: { save_dir: run }
`,
  );
}

const rows = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'run/stage_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test('a stage logs one row and saves a checkpoint; --resume continues from it; a fresh run into it is refused', (t) => {
  const { dir, config } = setup();
  let r = sat('train', '--config', config, '--stages', '1', '--threads', '1');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /test accuracy [\d.]+% on 20 problems before stage 1/);
  let log = rows(dir);
  t.is(log.length, 1);
  t.is(log[0].stage, 1);
  t.is(log[0].agents.length, 2);
  for (const a of log[0].agents) t.true(a.test_avg_at_k >= 0 && a.test_avg_at_k <= 1, `${a.name}'s own avg@K`);
  t.true(log[0].test_accuracy >= 0 && log[0].test_accuracy <= 1);
  t.true(log[0].test_avg_at_k >= 0 && log[0].test_avg_at_k <= log[0].test_pass_at_k && log[0].test_pass_at_k <= 1);
  for (const name of ['first', 'second'])
    t.true(fs.existsSync(path.join(dir, `run/checkpoints/stage-0001/${name}.safetensors`)));

  r = sat('train', '--config', config, '--stages', '1', '--threads', '1');
  t.is(r.code, 2);
  t.regex(r.stderr, /already holds a run: pass --resume/);

  r = sat('train', '--config', config, '--stages', '1', '--resume', '--threads', '1', '--json');
  t.is(r.code, 0, r.stderr);
  log = rows(dir);
  t.deepEqual(
    log.map((x) => x.stage),
    [1, 2],
  );
  t.is(JSON.parse(r.stdout.trim()).stage, 2);
  t.is(JSON.parse(fs.readFileSync(path.join(dir, 'run/checkpoints/latest.json'), 'utf8')).stage, 2);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a run killed at any point resumes from its last complete stage, with one log row per stage', async (t) => {
  const { dir, config } = setup();
  const log = path.join(dir, 'run/stage_log.jsonl');
  // Kill a long run as soon as its first row is logged: inside the save of stage 1 or in a later stage.
  const child = spawn(
    process.execPath,
    ['bin/sat-peer.js', 'train', '--config', config, '--stages', '30', '--threads', '1'],
    { cwd: ROOT },
  );
  while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('\n')))
    await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const latestFile = path.join(dir, 'run/checkpoints/latest.json');
  const saved = fs.existsSync(latestFile) ? JSON.parse(fs.readFileSync(latestFile, 'utf8')).stage : 0;
  t.true(saved < 30, 'the kill landed before the run ended');
  const r = sat('train', '--config', config, '--stages', '2', '--resume', '--threads', '1', '--json');
  t.is(r.code, 0, r.stderr);
  t.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).stage),
    [saved + 1, saved + 2],
  );
  t.deepEqual(
    rows(dir).map((x) => x.stage),
    Array.from({ length: saved + 2 }, (_, i) => i + 1),
    'no stage logged twice or skipped',
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('prompts over data.max_prompt_length and transcripts over the context are refused before anything runs', (t) => {
  const { dir, config } = setup();
  const text = fs.readFileSync(config, 'utf8');
  fs.writeFileSync(
    config,
    text.replace(
      'data: { train_batch_size: 4, max_response_length: 24 }',
      'data: { train_batch_size: 4, max_prompt_length: 10 }',
    ),
  );
  let r = sat('train', '--config', config);
  t.is(r.code, 2);
  oneLine(t, r.stderr, /prompt '.+' is \d+ tokens, over data\.max_prompt_length 10/);
  fs.writeFileSync(config, text.replace('max_response_length: 24', 'max_response_length: 5000'));
  r = sat('train', '--config', config);
  t.is(r.code, 2);
  oneLine(t, r.stderr, /a transcript can reach \d+ tokens .* over the context of agent 'first' \(4096 positions\)/);
  t.false(fs.existsSync(path.join(dir, 'run')), 'nothing was written');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a misspelled key is warned about as ignored, naming the nearest known key of its section', (t) => {
  const { dir, config } = setup();
  fs.writeFileSync(
    config,
    `${fs.readFileSync(config, 'utf8').replace('max_response_length: 24', 'max_prompt_length: 10')}` +
      'algorithm: { kl_ctrl: { target_kll: 0.1 } }\n',
  );
  const r = sat('train', '--config', config);
  t.is(r.code, 2);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(
    lines[0],
    'sat-peer: config: algorithm.kl_ctrl.target_kll: unknown key, ignored; did you mean `algorithm.kl_ctrl.target_kl`?',
  );
  t.regex(lines.at(-1)!, /over data\.max_prompt_length 10/);
  fs.rmSync(dir, { recursive: true, force: true });
});
