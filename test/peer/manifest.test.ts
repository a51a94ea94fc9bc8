// A team's manifest names the files of its creator's machine relative to the team file: the same team
// folder makes the same manifest anywhere, and read back from its team file each path leads to the file.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { EMBEDDED_MODELS } from '../../node/agent/hub/model-names.ts';
import { manifestFromConfig, teamOf } from '../../node/peer/manifest.ts';
import { localUri, portableModel, relativeTo } from '../../node/peer/team-paths.ts';
import { teamId } from '../../node/protocol/codec.ts';
import { tempDir } from '../temp-dir.ts';

const DEMO = new URL('../../models/demo/', import.meta.url).pathname;

/** A team folder: the demo's data and weak model beside a config naming them relatively. */
function teamFolder(): { dir: string; config: string } {
  const dir = tempDir('sat-manifest-');
  for (const f of ['train.jsonl', 'test.jsonl', 'tiny-weak'])
    fs.cpSync(path.join(DEMO, f), path.join(dir, 'team', f), { recursive: true });
  const config = path.join(dir, 'team', 'sat.yaml');
  fs.writeFileSync(
    config,
    'dataset: { train_path: train.jsonl, test_path: test.jsonl }\n' +
      `sat: { agents: [{ name: a, path: ./tiny-weak, upgrade: ${DEMO}tiny-strong }, { name: b, path: Qwen/Qwen3-0.6B }] }\n`,
  );
  return { dir, config };
}

test('paths relative to a folder start with ./ or ../ and use /', (t) => {
  t.is(relativeTo('/a/team', '/a/team/train.jsonl'), './train.jsonl');
  t.is(relativeTo('/a/team', '/a/data/train.jsonl'), '../data/train.jsonl');
  t.is(localUri('/a/team', './train.jsonl'), '/a/team/train.jsonl');
  t.is(localUri('/a/team', '/b/old.jsonl'), '/b/old.jsonl', 'an absolute uri of an older team file still reads');
  t.is(localUri('/a/team', ''), undefined);
});

test('a model is named by its embedded name, a path relative to the team file, or its hub id', (t) => {
  const dir = tempDir('sat-manifest-');
  fs.symlinkSync(EMBEDDED_MODELS['tiny-weak'], path.join(dir, 'linked'));
  t.is(portableModel(dir, EMBEDDED_MODELS['tiny-weak']), 'tiny-weak');
  t.is(portableModel(dir, path.join(dir, 'linked')), 'tiny-weak', 'through a link too');
  t.is(portableModel(dir, path.join(dir, 'models', 'weak')), './models/weak');
  t.is(portableModel(dir, 'Qwen/Qwen3-0.6B'), 'Qwen/Qwen3-0.6B');
});

test('the manifest names no folder of this machine, and read back from its team file its paths lead to the files', (t) => {
  const { dir, config } = teamFolder();
  const modelDirs = new Map([['Qwen/Qwen3-0.6B', EMBEDDED_MODELS['tiny-weak']]]);
  const beside = manifestFromConfig(config, { modelDirs });
  t.false(beside.config.includes(dir), beside.config);
  t.false(beside.config.includes(DEMO), beside.config);
  t.is(beside.dataset!.uri, './train.jsonl');
  t.is(beside.test!.uri, './test.jsonl');
  t.deepEqual(
    JSON.parse(beside.config).sat.agents.map((a: { path: string; upgrade?: string }) => [a.path, a.upgrade]),
    [
      ['./tiny-weak', 'tiny-strong'],
      ['Qwen/Qwen3-0.6B', undefined],
    ],
  );
  const team = teamOf(beside, path.join(dir, 'team', 'team.yaml'));
  t.is(team.cfg.dataset.trainPath, path.join(dir, 'team', 'train.jsonl'));
  t.is(team.cfg.sat.agents[0].path, path.join(dir, 'team', 'tiny-weak'));
  t.is(team.cfg.sat.agents[1].path, 'Qwen/Qwen3-0.6B');

  // A team file in another folder names the same files from there.
  const out = path.join(dir, 'out');
  const apart = manifestFromConfig(config, { modelDirs, teamDir: out });
  t.is(apart.dataset!.uri, '../team/train.jsonl');
  t.is(teamOf(apart, path.join(out, 'team.yaml')).cfg.sat.agents[0].path, path.join(dir, 'team', 'tiny-weak'));
  t.not(teamId(apart), teamId(beside));

  // Moved whole, the folder makes the same manifest.
  const moved = path.join(tempDir('sat-manifest-'), 'moved');
  fs.renameSync(path.join(dir, 'team'), moved);
  t.is(teamId(manifestFromConfig(path.join(moved, 'sat.yaml'), { modelDirs })), teamId(beside));
});
