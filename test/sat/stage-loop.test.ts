// The stage loop `train` and every peer run: a stage is saved with its record before its evaluation and
// logged after it, so a run killed during an evaluation evaluates that stage again and logs the row an
// uninterrupted run logs.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../node/config/load.ts';
import {
  type LoggedStage,
  type StageLoop,
  resumeEvaluation,
  runStages,
  stageStep,
  unloggedStage,
} from '../../node/sat/stage-loop.ts';
import { releaseTeam } from '../../node/sat/team.ts';
import { latestStageFolder, openTeam } from '../../node/sat/checkpoints.ts';
import { appendStageLog, loggedStage } from '../../node/sat/stage-log.ts';
import { tempDir } from '../temp-dir.ts';

const demo = new URL('../../models/demo/', import.meta.url).pathname;

function config() {
  const dir = tempDir('stage-loop-');
  const cfg = parseConfig(
    `
seed: 3
dataset: { train_path: ${demo}/train.jsonl, test_path: ${demo}/test.jsonl }
data: { train_batch_size: 2, max_response_length: 12 }
sat: { group_size: 2, agents: [{ name: a, path: ${demo}/tiny-weak }, { name: b, path: ${demo}/tiny-weak }] }
evaluation: { num_samples_per_agent: 2 }
training: { learning_rate: 0.001, lora: null }
logging: { save_dir: ${dir} }
`,
    'yaml',
    path.join(dir, 'c.yaml'),
  );
  return { dir, cfg };
}

/** A row without what differs between runs: its times. */
const bare = (row: object) => {
  const { seconds: _, time: __, ...rest } = row as Record<string, unknown>;
  return JSON.stringify(rest);
};
const logRows = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'stage_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test('each stage is saved with its record before its evaluation, then logged', async (t) => {
  const { dir, cfg } = config();
  const { team } = await openTeam(cfg, undefined, 1);
  try {
    const heard: LoggedStage[] = [];
    const loop: StageLoop = {
      cfg,
      team,
      test: team.test.slice(0, 4),
      onEvaluate: (stage) => {
        t.is(JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints/latest.json'), 'utf8')).stage, stage);
        t.true(fs.existsSync(path.join(latestStageFolder(cfg)!, 'record.json')), 'saved with its record');
        t.false(loggedStage(cfg, stage), 'not logged yet');
      },
      onStage: (s) => heard.push(s),
    };
    t.is(await runStages(loop, 1, 2), 2);
    t.deepEqual(
      heard.map((s) => s.stage),
      [1, 2],
    );
    t.deepEqual(
      logRows(dir).map(bare),
      heard.map((s) => bare(s.row)),
    );
    // A loop whose next stage may not run ends before it.
    t.is(await runStages({ ...loop, beforeStage: async () => false }, 3, 4), 2);
  } finally {
    await releaseTeam(team);
  }
});

test('a stage killed during its evaluation is evaluated again on reopening, and logs the row it would have', async (t) => {
  const whole = config();
  const cut = config();
  const rows: object[] = [];
  const a = await openTeam(whole.cfg, undefined, 1);
  try {
    const loop: StageLoop = { cfg: whole.cfg, team: a.team, test: a.team.test.slice(0, 4) };
    for (const stage of [1, 2]) rows.push((await stageStep(loop, stage)).row);
  } finally {
    await releaseTeam(a.team);
  }

  const b = await openTeam(cut.cfg, undefined, 1);
  try {
    const loop: StageLoop = { cfg: cut.cfg, team: b.team, test: b.team.test.slice(0, 4) };
    await stageStep(loop, 1);
    const killed = {
      ...loop,
      onEvaluate: () => {
        throw new Error('killed');
      },
    };
    await t.throwsAsync(stageStep(killed, 2), { message: 'killed' });
    appendStageLog(cut.cfg, { stage: 3 }); // a row past the saved stage gives way too
  } finally {
    await releaseTeam(b.team);
  }

  const again = await openTeam(cut.cfg, latestStageFolder(cut.cfg), 1);
  try {
    t.is(again.stage, 2);
    const record = unloggedStage(cut.cfg, again.stage);
    t.is(record?.stage, 2);
    const loop: StageLoop = { cfg: cut.cfg, team: again.team, test: again.team.test.slice(0, 4) };
    await resumeEvaluation(loop, record!);
    t.deepEqual(logRows(cut.dir).map(bare), rows.map(bare), 'the rows of an uninterrupted run, once each');
    t.is(unloggedStage(cut.cfg, again.stage), undefined, 'logged now');
  } finally {
    await releaseTeam(again.team);
  }
});
