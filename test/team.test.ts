// What a local team takes from its config.
import test from 'ava';
import { loadConfig, parseConfig } from '../node/config.ts';
import { unusedSettings } from '../node/team.ts';

test('a run names the reference settings it does not read, with what it reads instead', (t) => {
  const file = new URL('./fixtures/sat-configs/sat_demo.yaml', import.meta.url).pathname;
  const notes = unusedSettings(loadConfig(file));
  t.true(notes.some((n) => /rollout\.n 2 is not read: each prompt gets sat\.group_size 3 samples/.test(n)), notes.join('\n'));
  t.true(notes.some((n) => /every_n_steps 1 is not read/.test(n)));
  t.deepEqual(unusedSettings(parseConfig('seed: 1', 'yaml', '/tmp/c.yaml')), []);
});
