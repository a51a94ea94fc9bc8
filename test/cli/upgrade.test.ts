// `sat-peer upgrade` through the real bin: the embedded strong agent enters a slot of the demo team
// through Stage-0; a newcomer with another tokenizer is refused before any weights load.
import test from 'ava';
import path from 'node:path';
import { ROOT, demoConfig, oneLine, sat } from './run-cli.ts';

const CONFIG = demoConfig();

test('upgrade --json reports the team accuracy before and after the swap', (t) => {
  const ok = sat('upgrade', '--config', CONFIG, '--slot', '0', '--delta0', '2', '--limit', '40', '--threads', '1', '--json');
  t.is(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  t.is(out.slot, 'first');
  t.is(out.problems, 40);
  t.true(out.accuracyAfter >= 0 && out.accuracyAfter <= 1 && out.accuracyBefore >= 0 && out.accuracyBefore <= 1);
  // A vanishing ball keeps the incumbent's answers.
  const same = JSON.parse(sat('upgrade', '--config', CONFIG, '--slot', 'first', '--delta0', '1e-9', '--limit', '40', '--threads', '1', '--json').stdout);
  t.is(same.accuracyAfter, same.accuracyBefore);
});

test('a newcomer with another tokenizer, an unknown slot or a slot with no upgrade is one clear error', (t) => {
  let r = sat('upgrade', '--config', CONFIG, '--slot', 'first', '--model', path.join(ROOT, 'test/fixtures/qwen3-tokenizer'));
  t.is(r.code, 2);
  oneLine(t, r.stderr, /has another tokenizer than slot 'first'.*must share one tokenizer\.json/);
  r = sat('upgrade', '--config', CONFIG, '--slot', 'third');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /no slot 'third': the team's agents are 0 first, 1 second/);
  r = sat('upgrade', '--config', CONFIG, '--slot', 'second');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /names no upgrade/);
});
