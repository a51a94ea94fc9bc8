// What a local team takes from its config, and how it is saved and opened again.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../node/config/load.ts';
import { buildTeam, releaseTeam, unusedSettings, upgradeSlot } from '../../node/sat/team.ts';
import { latestStageFolder, openTeam, saveStage } from '../../node/sat/checkpoints.ts';
import { tempDir } from '../temp-dir.ts';

test('a run names the reference settings it does not read, with what it reads instead', (t) => {
  const file = new URL('../fixtures/sat-configs/sat_demo.yaml', import.meta.url).pathname;
  const notes = unusedSettings(loadConfig(file));
  t.true(
    notes.some((n) => /rollout\.n 2 is not read: each prompt gets sat\.group_size 3 samples/.test(n)),
    notes.join('\n'),
  );
  t.true(notes.some((n) => /every_n_steps 1 is not read/.test(n)));
  t.deepEqual(unusedSettings(parseConfig('seed: 1', 'yaml', '/tmp/c.yaml')), []);
});

test('an upgraded slot is saved with its incumbent and radius, and opens again as it was', async (t) => {
  const demo = new URL('../../models/demo/', import.meta.url).pathname;
  const dir = tempDir('team-');
  const cfg = parseConfig(
    `
dataset: { train_path: ${demo}/train.jsonl, test_path: ${demo}/test.jsonl }
sat: { agents: [{ name: a, path: ${demo}/tiny-weak }, { name: b, path: ${demo}/tiny-weak }] }
training: { lora: { rank: 2, alpha: 4, targets: [q_proj, v_proj] } }
logging: { save_dir: ${dir} }
`,
    'yaml',
    path.join(dir, 'c.yaml'),
  );
  const team = await buildTeam(cfg, 1);
  // Give the incumbent trained tensors of its own, so that losing them would show.
  for (const p of team.agents[0].trainer.parameters.values()) p.fill(0.01);
  await upgradeSlot(cfg, team, 0, `${demo}/tiny-strong`, 0.3, 1);
  saveStage(cfg, team, 1);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints/stage-0001/state.json'), 'utf8'));
  t.deepEqual(state.slots[1], {}, 'a slot on its configured model records none: the config says where it is');
  const again = await openTeam(cfg, latestStageFolder(cfg), 1);
  t.is(again.stage, 1);
  const [slot] = again.team.agents;
  t.is(slot.ckpt.dir, path.resolve(demo, 'tiny-strong'));
  t.is(slot.stage0?.delta, 0.3);
  t.is(slot.stage0?.incumbent.dir, path.resolve(demo, 'tiny-weak'));
  t.falsy(again.team.agents[1].stage0);
  const rows = [[5, 9, 14, 30, 31, 32, 40]];
  const positions = [[3, 4, 5, 6]];
  t.deepEqual(await slot.logprobsAt(rows, positions), await team.agents[0].logprobsAt(rows, positions));
  await t.throwsAsync(upgradeSlot(cfg, again.team, 0, `${demo}/tiny-strong`, 0.3, 1), {
    message: /still entering through Stage-0/,
  });
  await releaseTeam(team);
  await releaseTeam(again.team);
});

test('only the latest logging.keep_checkpoints stages stay on disk', async (t) => {
  const demo = new URL('../../models/demo/', import.meta.url).pathname;
  const dir = tempDir('team-');
  const cfg = parseConfig(
    `
dataset: { train_path: ${demo}/train.jsonl, test_path: ${demo}/test.jsonl }
sat: { agents: [{ name: a, path: ${demo}/tiny-weak }] }
training: { lora: { rank: 2, alpha: 4, targets: [q_proj] } }
logging: { save_dir: ${dir}, keep_checkpoints: 2 }
`,
    'yaml',
    path.join(dir, 'c.yaml'),
  );
  const team = await buildTeam(cfg, 1);
  for (let stage = 1; stage <= 4; stage++) saveStage(cfg, team, stage);
  t.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).sort(), ['latest.json', 'stage-0003', 'stage-0004']);
  const opened = await openTeam(cfg, latestStageFolder(cfg), 1);
  t.is(opened.stage, 4);
  await releaseTeam(opened.team);
  // Stages numbered above the one saved (left from an older run) are not the pruner's to judge, and
  // the stage just saved stays whatever the folder names sort like.
  fs.rmSync(path.join(dir, 'checkpoints/latest.json'));
  saveStage(cfg, team, 1);
  t.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).sort(), [
    'latest.json',
    'stage-0001',
    'stage-0003',
    'stage-0004',
  ]);
  for (const stage of [9999, 10000, 10001]) saveStage(cfg, team, stage);
  t.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).sort(), ['latest.json', 'stage-10000', 'stage-10001']);
  await releaseTeam(team);
});

test('an agent path that is no folder is named with its config key, before any tokenizer is read', async (t) => {
  const demo = new URL('../../models/demo/', import.meta.url).pathname;
  const dir = tempDir('team-');
  const cfg = parseConfig(
    `
dataset: { train_path: ${demo}/train.jsonl, test_path: ${demo}/test.jsonl }
sat: { agents: [{ name: a, path: ${demo}/tiny-weak }, { name: b, path: ${demo}/tiny-wek }] }
logging: { save_dir: ${dir} }
`,
    'yaml',
    path.join(dir, 'c.yaml'),
  );
  const err = await t.throwsAsync(buildTeam(cfg, 1), { name: 'ConfigError' });
  t.is(err?.message, `no such folder: ${path.join(demo, 'tiny-wek')} (sat.agents[1].path)`);
});
