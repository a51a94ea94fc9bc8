// A slot's saved state as its peer offers it to the team, and the same files made another peer's latest saved
// stage: the slot's tensors, optimizer state, beta and stage log arrive as saved; a state of another slot or team
// is refused.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Agent } from '../../node/agent/agent.ts';
import { InputError } from '../../node/agent/errors.ts';
import { parseConfig } from '../../node/config/load.ts';
import {
  commitSlotState,
  latestStageFolder,
  openTeam,
  readySlotState,
  restoreSlot,
  saveStage,
  slotStateFiles,
} from '../../node/sat/checkpoints.ts';
import { appendStageLog, loggedStage } from '../../node/sat/stage-log.ts';
import { releaseTeam } from '../../node/sat/team.ts';
import { tempDir } from '../temp-dir.ts';

const demo = new URL('../../models/demo/', import.meta.url).pathname;

function config(seed = 3) {
  const dir = tempDir('checkpoints-');
  const cfg = parseConfig(
    `
seed: ${seed}
dataset: { train_path: ${demo}/train.jsonl, test_path: ${demo}/test.jsonl }
data: { train_batch_size: 2, max_response_length: 12 }
sat: { group_size: 2, agents: [{ name: a, path: ${demo}/tiny-weak }, { name: b, path: ${demo}/tiny-weak }] }
training: { learning_rate: 0.001, lora: null }
logging: { save_dir: ${dir} }
`,
    'yaml',
    path.join(dir, 'c.yaml'),
  );
  return { dir, cfg };
}

/** The first trainable tensor of an agent, as it is now. */
const tensor = (a: Agent) => [...a.trainer.paramSource().current().values()][0].data;

/** The steps a peer takes with a state it fetched: checked, readied, then made its latest saved stage. */
function install(cfg: ReturnType<typeof config>['cfg'], slot: number, dir: string, stage: number): number {
  readySlotState(cfg, slot, dir, stage, `${demo}/tiny-weak`);
  commitSlotState(cfg, dir, stage);
  return stage;
}

/** The files of an offered state copied into a fresh folder, as a fetch materializes them. */
function fetched(files: Record<string, string>, into: string): string {
  fs.mkdirSync(into, { recursive: true });
  for (const [name, file] of Object.entries(files)) fs.copyFileSync(file, path.join(into, name));
  return into;
}

test("a slot's offered state becomes another peer's latest saved stage: its tensors, beta and stage log", async (t) => {
  const saver = config();
  const { team } = await openTeam(saver.cfg, undefined, 1);
  t.teardown(() => releaseTeam(team));
  // The peer of slot 1 saves its own slot only, trained away from the checkpoint the taker starts from.
  team.agents[1].beta = 0.125;
  tensor(team.agents[1])[0] += 1;
  saveStage(saver.cfg, { ...team, agents: [undefined, team.agents[1]] }, 2);
  for (const stage of [1, 2]) appendStageLog(saver.cfg, { stage, reward: stage / 10 });

  const offered = slotStateFiles(saver.cfg, 1)!;
  t.is(offered.stage, 2);
  t.deepEqual(Object.keys(offered.files).sort(), ['b.safetensors', 'stage_log.jsonl', 'state.json']);
  // Its trained tensors are listed by name and shape: each parameter, and its two AdamW moments.
  const [first, { shape }] = [...team.agents[1].trainer.paramSource().current()][0];
  for (const name of [first, `adam_m.${first}`, `adam_v.${first}`]) t.deepEqual(offered.tensors[name], shape, name);

  const taker = config();
  install(taker.cfg, 1, fetched(offered.files, path.join(taker.dir, 'in')), 2);
  const folder = latestStageFolder(taker.cfg)!;
  t.is(path.basename(folder), 'stage-0002');
  t.deepEqual(fs.readFileSync(path.join(folder, 'b.safetensors')), fs.readFileSync(offered.files['b.safetensors']));
  t.true(loggedStage(taker.cfg, 1) && loggedStage(taker.cfg, 2), 'the stage log came with it');
  t.false(fs.existsSync(path.join(taker.dir, 'in')), 'the fetched folder became the stage folder');

  const { team: other } = await openTeam(taker.cfg, undefined, 1);
  t.teardown(() => releaseTeam(other));
  restoreSlot(taker.cfg, folder, 1, other.agents[1]);
  t.is(other.agents[1].beta, 0.125);
  t.not(tensor(other.agents[1])[0], tensor(team.agents[0])[0], 'the tensors are the trained ones, not the checkpoint');
  t.deepEqual(tensor(other.agents[1]), tensor(team.agents[1]));
});

test('a state of another slot, team or stage, or whose state.json lies, is refused and nothing is installed', async (t) => {
  const saver = config();
  const { team } = await openTeam(saver.cfg, undefined, 1);
  t.teardown(() => releaseTeam(team));
  saveStage(saver.cfg, { ...team, agents: [undefined, team.agents[1]] }, 1);
  const { files } = slotStateFiles(saver.cfg, 1)!;

  const taker = config();
  let n = 0;
  const refused = (
    cfg: typeof taker.cfg,
    slot: number,
    stage: number,
    edit?: (state: Record<string, unknown>) => void,
  ) => {
    const dir = fetched(files, path.join(taker.dir, `in${n++}`));
    if (edit) {
      const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
      edit(state);
      fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
    }
    return t.throws(() => install(cfg, slot, dir, stage), { instanceOf: InputError })!.message;
  };
  t.regex(refused(taker.cfg, 0, 1), /holds no beta of the slot/);
  t.regex(refused(config(4).cfg, 1, 1), /was saved by team \w+, not by this config's team/);
  t.regex(refused(taker.cfg, 1, 2), /fetched for stage 2 says it was saved after stage 1/);
  // A stage that would name a folder outside the checkpoints, announced as such.
  t.regex(
    refused(taker.cfg, 1, 1, (s) => {
      s.stage = '../../elsewhere';
    }),
    /says it was saved after stage "..\/..\/elsewhere"/,
  );
  t.regex(
    refused(taker.cfg, 1, 1, (s) => {
      s.betas = [0.1];
    }),
    /for the betas of 2 slots/,
  );
  t.regex(
    refused(taker.cfg, 1, 1, (s) => {
      s.betas = [null, 'a lot'];
    }),
    /holds no beta of the slot/,
  );
  t.is(latestStageFolder(taker.cfg), undefined, 'nothing refused became a saved stage');
});
