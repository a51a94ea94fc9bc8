// `sat-peer upgrade` through the real bin: the embedded strong agent enters a slot of the demo team
// through Stage-0 and the run goes on with it; a newcomer with another tokenizer is refused before any
// weights load.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, demoConfig, oneLine, sat } from '../run-cli.ts';

const CONFIG = demoConfig();

test('upgrade --dry-run --json reports the team accuracy before and after the swap and saves nothing', (t) => {
  const ok = sat(
    'upgrade',
    '--config',
    CONFIG,
    '--slot',
    '0',
    '--delta0',
    '2',
    '--limit',
    '40',
    '--threads',
    '1',
    '--dry-run',
    '--json',
  );
  t.is(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  t.is(out.slot, 'first');
  t.is(out.problems, 40);
  t.is(out.savedStage, null);
  t.true(out.accuracyAfter >= 0 && out.accuracyAfter <= 1 && out.accuracyBefore >= 0 && out.accuracyBefore <= 1);
  t.false(fs.existsSync(path.join(path.dirname(CONFIG), 'run')));
  // A vanishing ball keeps the incumbent's answers.
  const same = JSON.parse(
    sat(
      'upgrade',
      '--config',
      CONFIG,
      '--slot',
      'first',
      '--delta0',
      '1e-9',
      '--limit',
      '40',
      '--threads',
      '1',
      '--dry-run',
      '--json',
    ).stdout,
  );
  t.is(same.accuracyAfter, same.accuracyBefore);
});

test("the swap is saved as the run's next stage; train --resume goes on with the newcomer and relaxes its ball", (t) => {
  // A small run: 4 prompts x 4 samples a stage, 20 held-out problems.
  const dir = path.dirname(CONFIG);
  const small = demoConfig((text) =>
    text
      .replace('train_batch_size: 64', 'train_batch_size: 4')
      .replace('group_size: 8', 'group_size: 4')
      .replace(/test_path: \S+ }/, `test_path: ${dir}/test20.jsonl }`),
  );
  const lines = fs.readFileSync(path.join(ROOT, 'models/demo/test.jsonl'), 'utf8').split('\n').slice(0, 20);
  fs.writeFileSync(path.join(dir, 'test20.jsonl'), `${lines.join('\n')}\n`);
  const save = path.join(path.dirname(small), 'run');

  const up = sat('upgrade', '--config', small, '--slot', 'first', '--delta0', '0.05', '--threads', '1', '--json');
  t.is(up.code, 0, up.stderr);
  t.is(JSON.parse(up.stdout).savedStage, 1);
  const state = JSON.parse(fs.readFileSync(path.join(save, 'checkpoints/stage-0001/state.json'), 'utf8'));
  t.is(state.slots[0].model, path.join(ROOT, 'models/demo/tiny-strong'));
  t.is(state.slots[0].stage0.delta, 0.05);
  t.true(fs.existsSync(path.join(save, 'checkpoints/stage-0001/first.incumbent.safetensors')));

  const again = sat('upgrade', '--config', small, '--slot', 'first', '--threads', '1');
  t.is(again.code, 2);
  oneLine(
    t,
    again.stderr,
    /slot 'first' is still entering through Stage-0 \(ball radius 0\.0500\): train on until its incumbent is released/,
  );

  const train = sat('train', '--config', small, '--resume', '--stages', '1', '--threads', '1', '--json');
  t.is(train.code, 0, train.stderr);
  const row = JSON.parse(train.stdout.trim().split('\n').at(-1)!);
  t.is(row.stage, 2);
  const first = row.agents.find((a: { name: string }) => a.name === 'first');
  t.is(first.stage0.deltaFrom, 0.05);
  t.true(first.stage0.delta >= 0.05);
  const log = fs
    .readFileSync(path.join(save, 'stage_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    log.map((r) => r.stage),
    [1, 2],
  );
  t.is(log[0].upgrade.slot, 'first');

  // Swapping from an earlier stage than the latest would fork the run: only a dry run may.
  const fork = sat(
    'upgrade',
    '--config',
    small,
    '--slot',
    'second',
    '--model',
    path.join(ROOT, 'models/demo/tiny-strong'),
    '--ckpt',
    path.join(save, 'checkpoints/stage-0001'),
    '--threads',
    '1',
  );
  t.is(fork.code, 2);
  oneLine(t, fork.stderr, /is not the run's latest stage .* add --dry-run to only measure it/);
});

test('a newcomer with another tokenizer, an unknown slot or a slot with no upgrade is one clear error', (t) => {
  let r = sat(
    'upgrade',
    '--config',
    CONFIG,
    '--slot',
    'first',
    '--model',
    path.join(ROOT, 'test/fixtures/qwen3-tokenizer'),
  );
  t.is(r.code, 2);
  oneLine(t, r.stderr, /has another tokenizer than slot 'first'.*must share one tokenizer\.json/);
  r = sat('upgrade', '--config', CONFIG, '--slot', 'third');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /no slot 'third': the team's agents are 0 first, 1 second/);
  r = sat('upgrade', '--config', CONFIG, '--slot', 'second');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /names no upgrade/);
});
