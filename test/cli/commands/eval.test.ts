// `sat-peer eval` through the real bin on the embedded demo team.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoConfig, oneLine, sat } from '../run-cli.ts';
import { tempDir } from '../../temp-dir.ts';

const CONFIG = demoConfig();

test('eval --json reports the metrics and writes one prediction per problem and sample', (t) => {
  const out = path.join(tempDir('sat-eval-'), 'predictions.jsonl');
  const r = sat('eval', '--config', CONFIG, '--k', '3', '--limit', '12', '--out', out, '--threads', '1', '--json');
  t.is(r.code, 0, r.stderr);
  const ev = JSON.parse(r.stdout);
  t.is(ev.problems, 12);
  t.is(ev.k, 3);
  for (const key of ['greedyAccuracy', 'avgAtK', 'passAtK', 'majorityVoteAccuracy'])
    t.true(ev[key] >= 0 && ev[key] <= 1, key);
  t.true(ev.passAtK >= ev.avgAtK);
  t.deepEqual(
    ev.agents.map((a: { name: string }) => a.name),
    ['first', 'second'],
  );
  const rows = fs
    .readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(rows.length, 3 * 36, 'the team and each agent alone: 12 problems x 3 samples');
  for (const [by, metrics] of [['team', ev], ...ev.agents.map((a: { name: string }) => [a.name, a])]) {
    const mine = rows.filter((x) => x.by === by);
    t.is(mine.length, 36, by);
    t.is(mine[0].turns.length, 2);
    t.true(Math.abs(mine.filter((x) => x.correct).length / 36 - metrics.avgAtK) < 1e-12, by);
    t.true(
      metrics.passAtK >= metrics.avgAtK && metrics.majorityVoteAccuracy >= 0 && metrics.majorityVoteAccuracy <= 1,
      by,
    );
  }
});

test('eval --ckpt of a folder that is no saved stage is one clear error', (t) => {
  const r = sat('eval', '--config', CONFIG, '--ckpt', os.tmpdir(), '--limit', '2');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /is not a saved stage: it has no state\.json/);
});
