// Runs the real bin, as a user would.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelFormatError } from '../../../node/agent/errors.ts';
import { report } from '../../../node/cli/main.ts';
import { UsageError } from '../../../node/cli/errors.ts';
import { FIXTURE, ROOT, oneLine, sat } from '../run-cli.ts';
import { tempDir } from '../../temp-dir.ts';

const PARAMETERS = 182_720;

test('model info prints the checkpoint in words', (t) => {
  const r = sat('model', 'info', FIXTURE);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  t.regex(r.stdout, /architecture\s+Qwen3ForCausalLM/);
  t.regex(r.stdout, /vocab\s+512\n/);
  t.regex(r.stdout, /intermediate\s+176\n/);
  t.regex(r.stdout, /4 heads, 2 kv heads, head_dim 32/);
  t.regex(r.stdout, /rope theta\s+1000000/);
  t.regex(r.stdout, /untied/);
  t.regex(r.stdout, /dtype\s+F32/);
  t.regex(r.stdout, /parameters\s+0\.18 M parameters \(182,720\)/);
  t.regex(r.stdout, /size on disk\s+716\.3 KiB \(733,440 bytes\) in 1 file\n/);
});

test('model info --json prints one object with camelCase fields', (t) => {
  const r = sat('model', 'info', FIXTURE, '--json');
  t.is(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  t.like(info, {
    dir: FIXTURE,
    architecture: 'Qwen3ForCausalLM',
    vocabSize: 512,
    hiddenSize: 64,
    intermediateSize: 176,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 32,
    ropeTheta: 1e6,
    tieWordEmbeddings: false,
    eosTokenIds: [2],
    dtypes: ['F32'],
    tensors: 25,
    parameters: PARAMETERS,
    files: ['model.safetensors'],
    sizeOnDisk: fs.statSync(path.join(FIXTURE, 'model.safetensors')).size,
  });
  t.is(sat('--json', 'model', 'info', FIXTURE).stdout, r.stdout); // global flags may come first
});

test('a missing folder: exit 2, one line naming it, no stack', (t) => {
  const dir = path.join(os.tmpdir(), 'sat-cli-no-such-model');
  const r = sat('model', 'info', dir);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  oneLine(t, r.stderr, new RegExp(`no such model name or folder: ${dir}; known names: tiny-weak`));
});

test('--verbose adds the stack trace to a known error', (t) => {
  const r = sat('model', 'info', path.join(os.tmpdir(), 'sat-cli-no-such-model'), '--verbose');
  t.is(r.code, 2);
  t.regex(r.stderr, /^sat-peer: [^\n]*no such model name or folder[^\n]*\nModelNotFoundError: [^\n]*\n\s+at /);
});

test('a truncated safetensors file: exit 2, one line', (t) => {
  const dir = tempDir('sat-cli-');
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  fs.truncateSync(path.join(dir, 'model.safetensors'), 100_000);
  const r = sat('model', 'info', dir);
  t.is(r.code, 2);
  oneLine(t, r.stderr, /model\.safetensors: file truncated/);
});

const usage: [string[], RegExp][] = [
  [['frobnicate'], /unknown command 'frobnicate'/],
  [['model'], /unknown command 'model'; did you mean 'model info', 'model init' or 'model score'\?/],
  [['model', 'info'], /missing argument <model>; usage: sat-peer model info <name\|dir>/],
  [['model', 'info', 'a', 'b'], /unexpected argument 'b'/],
  [['model', 'info', FIXTURE, '--frob'], /unknown option '--frob'/],
  [['--json'], /missing command/],
];

for (const [args, message] of usage) {
  test(`usage error: sat-peer ${args.join(' ')} -> exit 2`, (t) => {
    const r = sat(...args);
    t.is(r.code, 2);
    t.is(r.stdout, '');
    oneLine(t, r.stderr, new RegExp(`${message.source}.* \\(see sat-peer --help\\)$`));
  });
}

test('--help lists the commands with their summaries', (t) => {
  for (const flag of ['--help', '-h']) {
    const r = sat(flag);
    t.is(r.code, 0);
    t.regex(r.stdout, /Usage: sat-peer <command>/);
    t.regex(r.stdout, /\n {2}model info +show a checkpoint's architecture/);
    t.regex(r.stdout, /\n {2}generate +continue a prompt/);
    t.regex(r.stdout, /--verbose/);
  }
});

test('<command> --help shows its usage', (t) => {
  const r = sat('model', 'info', '--help');
  t.is(r.code, 0);
  t.regex(r.stdout, /^Usage: sat-peer model info <name\|dir> \[--offline\] \[--json\]\n/);
  t.regex(r.stdout, /--json\s+print JSON instead of text/);
});

test('report: known errors exit 2, anything else is a bug with exit 1', (t) => {
  t.deepEqual(report(new ModelFormatError('x: bad'), false), { code: 2, text: 'sat-peer: x: bad\n' });
  t.deepEqual(report(new UsageError('no'), false), { code: 2, text: 'sat-peer: no (see sat-peer --help)\n' });
  const bug = report(new TypeError('cannot read foo\nof undefined'), false);
  t.deepEqual(bug, {
    code: 1,
    text: 'sat-peer: internal error: cannot read foo of undefined (a bug: rerun with --verbose for the stack trace)\n',
  });
  const verbose = report(new TypeError('boom'), true);
  t.is(verbose.code, 1);
  t.regex(verbose.text, /^sat-peer: internal error: boom\nTypeError: boom\n\s+at /);
});

test('report: the file system refusing a path the user gave is one line naming it, exit 2', (t) => {
  const file = path.join(tempDir('sat-report-'), 'a-file');
  fs.writeFileSync(file, '');
  const refused = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return report(e, false);
    }
    throw new Error('no error');
  };
  t.deepEqual(
    refused(() => fs.mkdirSync(path.join(file, 'sub'), { recursive: true })),
    { code: 2, text: `sat-peer: cannot mkdir ${path.join(file, 'sub')}: part of the path is a file, not a folder\n` },
  );
  const folder = tempDir('sat-report-');
  t.deepEqual(
    refused(() => fs.renameSync(file, folder)),
    {
      code: 2,
      text: `sat-peer: cannot rename ${folder}: it is a folder\n`,
    },
  );
});

test('--version prints the package version', (t) => {
  const r = sat('--version');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`);
});

test('model info takes a model name as start does', (t) => {
  const r = sat('model', 'info', 'tiny-weak', '--offline');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^\S+models\/demo\/tiny-weak\n {2}architecture\s+Qwen3ForCausalLM/);
});
