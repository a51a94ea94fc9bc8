// `sat-peer status` as a user runs it: one clear line for bad input (a data dir that is a file, or no peer's);
// with a data dir where no peer runs, it says so and shows the stages the stage log holds (as text and as JSON),
// leaving out rows short of a field; with one a peer holds without --http, it says that, with the peer's pid.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { oneLine, sat } from '../run-cli.ts';
import { tempDir } from '../../temp-dir.ts';

test('bad input: one line, exit 2', (t) => {
  const dir = tempDir('sat-status-bad-');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  for (const [args, message] of [
    [[], /one of --http <url> or --data-dir <dir>/],
    [['--http', 'http://127.0.0.1:1/', '--data-dir', dir], /give only one of --http <url> and --data-dir <dir>/],
    [['--http', 'ftp://x/'], /--http must be a status page's URL/],
    [
      ['--http', 'http://127.0.0.1:1/'],
      /no status page answers at http:\/\/127\.0\.0\.1:1\/status\.json: nothing listens at 127\.0\.0\.1:1$/,
    ],
    [['--data-dir', path.join(dir, 'missing')], /no data dir at/],
    [['--data-dir', file], /--data-dir .*a-file is not a folder/],
    [['--data-dir', dir], /sat-status-bad-\S+ is no peer's data dir \(it holds no identity\.key\)/],
    [['--bogus'], /unknown option '--bogus'/],
  ] as const) {
    const r = sat('status', ...args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    oneLine(t, r.stderr, message);
  }
});

test('a data dir with no peer running: says so and shows its stage log', (t) => {
  const dir = tempDir('sat-status-log-');
  fs.writeFileSync(path.join(dir, 'identity.key'), 'a key');
  const row = (stage: number) => ({
    stage,
    reward: 0.25 * stage,
    test_accuracy: 0.1 * stage,
    agents: [{ slot: 0, name: 'a', klQuantile: 0, backtracks: 0 }],
    time: { rollout: 1, update: 2, network: 0, eval: 3 },
    seconds: 6,
  });
  // Rows short of the seconds or the time (written by hand, or by another version) are skipped.
  const log = [row(1), row(2), { ...row(3), seconds: undefined }, { ...row(3), time: undefined }];
  fs.writeFileSync(path.join(dir, 'stage_log.jsonl'), log.map((r) => `${JSON.stringify(r)}\n`).join(''));
  // A status file left by a process that is gone (killed) counts for nothing.
  fs.writeFileSync(path.join(dir, 'status.json'), JSON.stringify({ url: 'http://127.0.0.1:1/', pid: 2 ** 30 }));
  const text = sat('status', '--data-dir', dir);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /no peer is running in .*; its stage log holds 2 stages/);
  t.regex(text.stdout, /^\s+2\s+20\.0%\s+0\.500\s+6\.0$/m);
  t.regex(text.stdout, /stage 2: rollout 1\.0 s, update 2\.0 s, network 0\.0 s, eval 3\.0 s/);
  const json = sat('status', '--data-dir', dir, '--json');
  t.is(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  t.false(out.running);
  t.deepEqual(
    out.stages.map((s: { stage: number; accuracy: number }) => [s.stage, s.accuracy]),
    [
      [1, 0.1],
      [2, 0.2],
    ],
  );
});

test('a peer running in the data dir without --http: says so with its pid, and shows its stage log', (t) => {
  const dir = tempDir('sat-status-held-');
  fs.writeFileSync(path.join(dir, 'identity.key'), 'a key');
  // The live process holding the dir: this one stands in for the peer.
  fs.writeFileSync(path.join(dir, 'peer.pid'), `${process.pid}\n`);
  const text = sat('status', '--data-dir', dir);
  t.is(text.code, 0, text.stderr);
  t.regex(
    text.stdout,
    new RegExp(
      `^a peer runs in \\S+ \\(pid ${process.pid}\\) without --http: start it with --http to see its live status; ` +
        'its stage log holds 0 stages\n\nno stage logged yet\n$',
    ),
  );
  const json = sat('status', '--data-dir', dir, '--json');
  t.is(json.code, 0, json.stderr);
  t.like(JSON.parse(json.stdout), { running: true, pid: process.pid, stages: [] });
});
