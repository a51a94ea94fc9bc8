// `sat-peer team create/show` and the checks `sat-peer start` makes before it joins anything: through
// the real bin, each bad input is one line and exit 2.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { cudaAvailable } from '../../../node/gpu/ort.ts';
import { DEMO, FIXTURE, ROOT, demoConfig, oneLine, sat, satWithEnv } from '../run-cli.ts';
import { loadTokenizer } from '../../../node/agent/model/tokenizer.ts';
import { tempDir } from '../../temp-dir.ts';
import { cacheSnapshot } from '../../agent/hub/hf-cache.ts';

const DEMO_CONFIG = path.join(ROOT, 'models/demo/demo.yaml');
const tmp = () => tempDir('sat-team-');

test('team create writes a team file; team show prints it with the same id, as text and JSON', (t) => {
  const dir = tmp();
  const file = path.join(dir, 'team.yaml');
  const created = sat('team', 'create', '--config', DEMO_CONFIG, '--out', file, '--json');
  t.is(created.code, 0, created.stderr);
  const { id, slots } = JSON.parse(created.stdout);
  t.regex(id, /^bafk/);
  t.is(slots, 2);
  const shown = JSON.parse(sat('team', 'show', file, '--json').stdout);
  t.is(shown.id, id);
  t.is(shown.workflow, 'chain');
  t.deepEqual(
    shown.slots.map((s: { role: string }) => s.role),
    ['first', 'second'],
  );
  // The embedded demo models go by their names, on any machine.
  t.deepEqual(shown.models[0], { path: 'tiny-weak', upgrade: 'tiny-strong' });
  t.regex(sat('team', 'show', file).stdout, new RegExp(`team ${id}: demo`));
  // The same config makes the same team; another name another one.
  t.is(
    JSON.parse(sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, 'b.yaml'), '--json').stdout).id,
    id,
  );
  t.not(
    JSON.parse(
      sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, 'c.yaml'), '--name', 'other', '--json')
        .stdout,
    ).id,
    id,
  );
  // --slots: the config's agents, then copies of the last; or its first ones.
  t.is(sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, 'd.yaml'), '--slots', '4').code, 0);
  const four = JSON.parse(sat('team', 'show', path.join(dir, 'd.yaml'), '--json').stdout);
  t.deepEqual(
    four.slots.map((s: { role: string }) => s.role),
    ['first', 'second', 'second-3', 'second-4'],
  );
  t.deepEqual(
    four.models.map((m: { upgrade: string | null }) => m.upgrade),
    ['tiny-strong', null, null, null],
  );
  t.is(sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, 'e.yaml'), '--slots', '1').code, 0);
  t.deepEqual(
    JSON.parse(sat('team', 'show', path.join(dir, 'e.yaml'), '--json').stdout).slots.map(
      (s: { role: string }) => s.role,
    ),
    ['first'],
  );
  oneLine(
    t,
    sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, 'f.yaml'), '--slots', '0').stderr,
    /--slots/,
  );
});

test("team create --seed makes the team with that seed in place of the config's: another team", (t) => {
  const dir = tmp();
  const make = (file: string, ...seed: string[]) =>
    JSON.parse(sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, file), ...seed, '--json').stdout)
      .id as string;
  const plain = make('a.yaml');
  const seeded = make('b.yaml', '--seed', '8');
  t.not(seeded, plain);
  t.is(make('c.yaml', '--seed', '8'), seeded, 'the same seed makes the same team');
  t.is(make('d.yaml', '--seed', '7'), plain, "the config's own seed is 7");
  t.regex(fs.readFileSync(path.join(dir, 'b.yaml'), 'utf8'), /^ {2}seed: 8$/m);
  oneLine(
    t,
    sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, 'e.yaml'), '--seed', 'x').stderr,
    /--seed/,
  );
});

test('team create refuses, in one line, an --out that is the config itself, a folder, or under a file', (t) => {
  const dir = tmp();
  const config = path.join(dir, 'demo.yaml');
  const text = fs
    .readFileSync(DEMO_CONFIG, 'utf8')
    .replaceAll(/(\.\/|train\.jsonl|test\.jsonl)/g, (m) => path.join(path.dirname(DEMO_CONFIG), m));
  fs.writeFileSync(config, text);
  fs.symlinkSync(config, path.join(dir, 'link.yaml'));
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'a file');
  for (const [out, message] of [
    [config, /--out \S+demo\.yaml is the config itself: writing the team file there would overwrite it/],
    [path.join(dir, '.', 'link.yaml'), /is the config itself/],
    [dir, /^sat-peer: --out names a folder: give a file name, e\.g\. \S+\/team\.yaml/],
    [`${path.join(dir, 'new')}/`, /--out names a folder: give a file name, e\.g\. \S+\/new\/team\.yaml/],
    [path.join(file, 'team.yaml'), /--out \S+ lies under \S+a-file, which is a file/],
  ] as const) {
    for (const check of [[], ['--check']]) {
      const r = sat('team', 'create', '--config', config, '--out', out, ...check);
      t.is(r.code, 2, `${out}: ${r.stderr}`);
      oneLine(t, r.stderr, message);
    }
  }
  t.is(fs.readFileSync(config, 'utf8'), text, 'the config is untouched');
  t.false(fs.existsSync(path.join(dir, 'new')));
});

test('team create refuses, in one line, an agent role that has no built-in prompt and no system_prompt', (t) => {
  const dir = tmp();
  const config = path.join(dir, 'judged.yaml');
  const text = fs
    .readFileSync(DEMO_CONFIG, 'utf8')
    .replaceAll(/(\.\/|train\.jsonl|test\.jsonl)/g, (m) => path.join(path.dirname(DEMO_CONFIG), m))
    .replace('{ name: second,', '{ name: second, role: judge,');
  fs.writeFileSync(config, text);
  const r = sat('team', 'create', '--config', config, '--out', path.join(dir, 'f.yaml'));
  t.is(r.code, 2);
  oneLine(t, r.stderr, /sat\.agents\[1\]\.role 'judge' has no built-in prompt: give sat\.agents\[1\]\.system_prompt/);
  t.false(fs.existsSync(path.join(dir, 'f.yaml')));
  fs.writeFileSync(config, text.replace('role: judge,', 'role: judge, system_prompt: Pick the better answer.,'));
  t.is(sat('team', 'create', '--config', config, '--out', path.join(dir, 'f.yaml')).code, 0);
});

test('the example real team is accepted by team create, its hub model read from the Hugging Face cache', (t) => {
  const dir = tmp();
  const config = path.join(dir, 'team.yaml');
  fs.copyFileSync(path.join(ROOT, 'examples/qwen3-0.6b-gsm8k.yaml'), config);
  fs.mkdirSync(path.join(dir, 'gsm8k'));
  for (const split of ['train', 'test'])
    fs.copyFileSync(
      path.join(ROOT, 'test/fixtures/datasets/gsm8k.parquet'),
      path.join(dir, 'gsm8k', `${split}.parquet`),
    );
  const hfHome = path.join(dir, 'hf');
  const create = () =>
    satWithEnv(
      { HF_HOME: hfHome },
      'team',
      'create',
      '--config',
      config,
      '--out',
      path.join(dir, 'f.yaml'),
      '--offline',
    );
  let r = create();
  t.is(r.code, 2);
  oneLine(t, r.stderr, /offline: Qwen\/Qwen3-0\.6B at revision main is not in the Hugging Face cache/);

  // The cache as huggingface_hub leaves it: refs/main names a snapshot holding the checkpoint's files.
  const tokenizer = path.join(ROOT, 'test/fixtures/qwen3-tokenizer');
  cacheSnapshot(hfHome, 'Qwen/Qwen3-0.6B', {
    'config.json': path.join(FIXTURE, 'config.json'),
    'model.safetensors': path.join(FIXTURE, 'model.safetensors'),
    'tokenizer.json': path.join(tokenizer, 'tokenizer.json'),
    'tokenizer_config.json': path.join(tokenizer, 'tokenizer_config.json'),
  });
  r = create();
  t.is(r.code, 0, r.stderr);
  const shown = JSON.parse(sat('team', 'show', path.join(dir, 'f.yaml'), '--json').stdout);
  t.deepEqual(
    shown.slots.map((s: { role: string }) => s.role),
    ['solver', 'critic', 'finalizer'],
  );
  const qwenHash = loadTokenizer(path.join(ROOT, 'test/fixtures/qwen3-tokenizer')).hash;
  t.true(shown.slots.every((s: { tokenizer: string }) => s.tokenizer === qwenHash));
});

test(
  'a damaged or missing team file, a slot the team lacks, an unknown ' +
    'model and a missing CUDA provider are one clear error each',
  (t) => {
    const dir = tmp();
    const file = path.join(dir, 'team.yaml');
    t.is(sat('team', 'create', '--config', DEMO_CONFIG, '--out', file).code, 0);
    const text = fs.readFileSync(file, 'utf8');

    fs.writeFileSync(path.join(dir, 'bad.yaml'), text.replace(/cid: \S+/, 'cid: not-a-cid'));
    let r = sat('team', 'show', path.join(dir, 'bad.yaml'));
    t.is(r.code, 2);
    oneLine(t, r.stderr, /dataset\.cid 'not-a-cid' is no CID/);

    fs.writeFileSync(path.join(dir, 'short.yaml'), text.replace(/tokenizer: \w+/, 'tokenizer: abcd'));
    r = sat('team', 'show', path.join(dir, 'short.yaml'));
    t.is(r.code, 2);
    oneLine(t, r.stderr, /slots\[0\]\.tokenizer is out-of-range/);

    r = sat('start', '--team', path.join(dir, 'none.yaml'), '--model', 'tiny-weak', '--data-dir', path.join(dir, 'p'));
    t.is(r.code, 2);
    oneLine(t, r.stderr, /cannot read team file .*none\.yaml: no such file/);

    r = sat('start', '--team', file, '--model', 'tiny-weak', '--slot', '5', '--data-dir', path.join(dir, 'p'));
    t.is(r.code, 2);
    oneLine(t, r.stderr, /the team has 2 slots \(0\.\.1\), not slot 5/);

    r = sat('start', '--team', file, '--model', 'qwen9-huge', '--data-dir', path.join(dir, 'p'), '--offline');
    t.is(r.code, 2);
    oneLine(t, r.stderr, /qwen9-huge/);
    if (!cudaAvailable()) {
      r = sat('start', '--team', file, '--model', 'tiny-weak', '--device', 'cuda', '--data-dir', path.join(dir, 'p'));
      t.is(r.code, 2);
      oneLine(
        t,
        r.stderr,
        /CUDA execution provider is not installed.*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install/,
      );
    }
    t.false(fs.existsSync(path.join(dir, 'p', 'identity.key')), 'nothing was started');
  },
);

test('a model whose tokenizer fits no slot is refused in one line, and the peer exits', (t) => {
  const dir = tmp();
  const file = path.join(dir, 'team.yaml');
  t.is(sat('team', 'create', '--config', DEMO_CONFIG, '--out', file).code, 0);
  const model = path.join(dir, 'other-tokenizer');
  fs.mkdirSync(model);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(model, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    fs.copyFileSync(path.join(ROOT, 'test/fixtures/qwen3-tokenizer', f), path.join(model, f));
  // Started, the peer listens to the roster before it chooses; once refused it stops all it started.
  const started = Date.now();
  const r = sat(
    'start',
    '--team',
    file,
    '--model',
    model,
    '--data-dir',
    path.join(dir, 'p'),
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
  );
  t.is(r.code, 2);
  oneLine(t, r.stderr, /fits no slot of this team: its tokenizer differs from every slot's \(2 slots\)/);
  t.true(Date.now() - started < 60_000, `exited after ${Date.now() - started} ms`);
});

/**
 * A checkpoint shaped like the weak demo model but with every width scaled up (hidden 64 -> 16384): its
 * safetensors header is real, its data a sparse file, so it takes no disk — only a memory estimate reads it.
 */
function hugeCheckpoint(dir: string): string {
  const weak = path.join(ROOT, 'models/demo/tiny-weak');
  const out = path.join(dir, 'huge');
  fs.mkdirSync(out);
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    if (fs.existsSync(path.join(weak, f))) fs.copyFileSync(path.join(weak, f), path.join(out, f));
  const scale: Record<number, number> = { 16: 4096, 32: 8192, 64: 16384, 192: 49152 };
  const config = JSON.parse(fs.readFileSync(path.join(weak, 'config.json'), 'utf8'));
  fs.writeFileSync(
    path.join(out, 'config.json'),
    JSON.stringify({
      ...config,
      hidden_size: 16384,
      intermediate_size: 49152,
      head_dim: 4096,
      torch_dtype: 'bfloat16',
    }),
  );
  const bytes = fs.readFileSync(path.join(weak, 'model.safetensors'));
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<
    string,
    { shape: number[] }
  >;
  let at = 0;
  const big: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const shape = t.shape.map((d) => scale[d] ?? d);
    const length = 2 * shape.reduce((a, b) => a * b, 1);
    big[name] = { dtype: 'BF16', shape, data_offsets: [at, at + length] };
    at += length;
  }
  const json = Buffer.from(JSON.stringify(big));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(out, 'model.safetensors');
  fs.writeFileSync(file, Buffer.concat([head, json]));
  fs.truncateSync(file, 8 + json.length + at);
  return out;
}

test("a model too big for this machine's memory is refused before the peer claims a slot", (t) => {
  const dir = tmp();
  const file = path.join(dir, 'team.yaml');
  t.is(sat('team', 'create', '--config', DEMO_CONFIG, '--out', file).code, 0);
  const r = sat(
    'start',
    '--team',
    file,
    '--model',
    hugeCheckpoint(dir),
    '--slot',
    '1',
    '--data-dir',
    path.join(dir, 'p'),
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
  );
  t.is(r.code, 2);
  oneLine(
    t,
    r.stderr,
    new RegExp(
      String.raw`huge needs about \d+ GiB to take part in this team's stages on the CPU ` +
        String.raw`\(weights \d+ GiB, optimizer \d+ GiB, activations of 1 rollouts x \d+ tokens ` +
        String.raw`[\d.]+ GiB\), and this machine has [\d.]+ GiB available: use a smaller ` +
        String.raw`model \(this team fine-tunes every weight`,
    ),
  );
  t.false(fs.existsSync(path.join(dir, 'p', 'claims.json')), 'no slot was claimed');
});

test('start --memory: the peer plans with the memory it is given; too little for one rollout is refused before it claims a slot', (t) => {
  const dir = tmp();
  const file = path.join(dir, 'team.yaml');
  t.is(sat('team', 'create', '--config', DEMO_CONFIG, '--out', file).code, 0);
  const start = (...extra: string[]) =>
    sat(
      'start',
      '--team',
      file,
      '--model',
      'tiny-weak',
      '--slot',
      '1',
      '--data-dir',
      path.join(dir, 'p'),
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      ...extra,
    );
  let r = start('--memory', '0.05');
  t.is(r.code, 2);
  oneLine(
    t,
    r.stderr,
    new RegExp(
      String.raw`tiny-weak needs about [\d.]+ GiB to take part in this team's stages on ` +
        String.raw`the CPU \(.*\), and --memory gives it 0\.1 GiB: .*\(or a larger --memory\)$`,
    ),
  );
  t.false(fs.existsSync(path.join(dir, 'p', 'claims.json')), 'no slot was claimed');
  r = start('--memory', 'lots');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /--memory/);
});

test('team create --allow makes an allowlist team; a peer it does not admit is refused before it claims a slot', async (t) => {
  const dir = tmp();
  const ids = await Promise.all(
    [0, 1].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()),
  );
  const file = path.join(dir, 'team.yaml');
  const created = sat(
    'team',
    'create',
    '--config',
    DEMO_CONFIG,
    '--out',
    file,
    '--allow',
    ids[0],
    '--allow',
    ids[1],
    '--json',
  );
  t.is(created.code, 0, created.stderr);
  const shown = JSON.parse(sat('team', 'show', file, '--json').stdout);
  t.is(shown.id, JSON.parse(created.stdout).id, 'the allowlist survives the team file');
  t.is(shown.admission, 'allowlist');
  t.deepEqual(shown.allow, ids);
  t.regex(sat('team', 'show', file).stdout, /admits 2 peers: 12D3KooW/);
  oneLine(
    t,
    sat('team', 'create', '--config', DEMO_CONFIG, '--out', path.join(dir, 'b.yaml'), '--allow', 'nobody').stderr,
    /--allow 'nobody' is not a peer id/,
  );

  const r = sat(
    'start',
    '--team',
    file,
    '--model',
    'tiny-weak',
    '--slot',
    '0',
    '--data-dir',
    path.join(dir, 'p'),
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
  );
  t.is(r.code, 2);
  oneLine(
    t,
    r.stderr,
    new RegExp(
      String.raw`this peer \(12D3KooW\w+\) is not on team \w+'s allowlist: ask the team ` +
        String.raw`for a team file that admits it \(sat-peer team create --allow 12D3KooW\w+\)`,
    ),
  );
  t.false(fs.existsSync(path.join(dir, 'p', 'claims.json')), 'no slot was claimed');
});

test(
  'the team sat-peer sim runs by default: three slots of the weak agent ' +
    "on three-step problems, the strong one as the first slot's newcomer",
  (t) => {
    const file = path.join(tmp(), 'team.yaml');
    const created = sat(
      'team',
      'create',
      '--config',
      path.join(ROOT, 'models/demo3/demo.yaml'),
      '--out',
      file,
      '--json',
    );
    t.is(created.code, 0, created.stderr);
    const shown = JSON.parse(sat('team', 'show', file, '--json').stdout);
    t.deepEqual(
      shown.slots.map((s: { role: string }) => s.role),
      ['first', 'second', 'third'],
    );
    t.deepEqual(
      shown.models.map((m: { path: string }) => m.path),
      Array(3).fill(path.join(ROOT, 'models/demo3/tiny-weak')),
    );
    t.is(shown.models[0].upgrade, path.join(ROOT, 'models/demo3/tiny-strong'));
    const steps = fs
      .readFileSync(path.join(ROOT, 'models/demo3/test.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).prompt.match(/Step \d/g).length);
    t.deepEqual([...new Set(steps)], [3]);
  },
);

test('a misspelled key is refused by team create, and a team file holding one by team show and start', (t) => {
  const dir = tmp();
  const file = path.join(dir, 'team.yaml');
  let r = sat(
    'team',
    'create',
    '--config',
    demoConfig((x) => x.replace('target_kl:', 'target_kll:')),
    '--out',
    file,
  );
  t.is(r.code, 2);
  oneLine(t, r.stderr, /unknown key algorithm\.kl_ctrl\.target_kll; did you mean `algorithm\.kl_ctrl\.target_kl`\?$/);
  t.false(fs.existsSync(file));

  t.is(sat('team', 'create', '--config', DEMO_CONFIG, '--out', file).code, 0);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('target_kl:', 'target_kll:'));
  r = sat('team', 'show', file);
  t.is(r.code, 2);
  oneLine(
    t,
    r.stderr,
    /team\.yaml: unknown key algorithm\.kl_ctrl\.target_kll; did you mean `algorithm\.kl_ctrl\.target_kl`\?$/,
  );
  r = sat('start', '--team', file, '--model', 'tiny-weak', '--data-dir', path.join(dir, 'p'));
  t.is(r.code, 2);
  oneLine(t, r.stderr, /unknown key algorithm\.kl_ctrl\.target_kll; did you mean `algorithm\.kl_ctrl\.target_kl`\?$/);
  t.false(fs.existsSync(path.join(dir, 'p', 'identity.key')), 'nothing was started');
});

test('team create --check validates the config and prints the team it would make, without writing it', (t) => {
  const dir = tmp();
  const file = path.join(dir, 'team.yaml');
  let r = sat('team', 'create', '--config', DEMO_CONFIG, '--out', file, '--check');
  t.is(r.code, 0, r.stderr);
  t.false(fs.existsSync(file));
  const id = /^team (bafk\w+): demo$/m.exec(r.stdout)?.[1];
  t.truthy(id, r.stdout);
  t.regex(r.stdout, /slot 0: first \(qwen3/);
  t.regex(r.stdout, /slot 1: second \(qwen3/);
  t.regex(r.stdout, /not written/);
  r = sat('team', 'create', '--config', DEMO_CONFIG, '--out', file, '--check', '--json');
  t.is(r.code, 0, r.stderr);
  const checked = JSON.parse(r.stdout);
  t.is(checked.id, id);
  t.is(checked.written, false);
  t.deepEqual(
    checked.slots.map((s: { role: string }) => s.role),
    ['first', 'second'],
  );
  t.false(fs.existsSync(file));
  t.is(JSON.parse(sat('team', 'create', '--config', DEMO_CONFIG, '--out', file, '--json').stdout).id, id);

  // What create would refuse, --check refuses alike: a missing data set, rows in no layout, a model not there.
  const check = (edit: (x: string) => string) =>
    sat('team', 'create', '--config', demoConfig(edit), '--check', '--offline');
  r = check((x) => x.replace(`${DEMO}/train.jsonl`, `${DEMO}/none.jsonl`));
  t.is(r.code, 2);
  oneLine(t, r.stderr, /dataset\.train_path of .* names no file/);
  const rows = path.join(dir, 'rows.jsonl');
  fs.writeFileSync(rows, '{"question_text": "1+1", "solution_text": "2"}\n');
  r = check((x) => x.replace(`${DEMO}/test.jsonl`, rows));
  t.is(r.code, 2);
  oneLine(t, r.stderr, /rows\.jsonl/);
  r = check((x) => x.replace(`${DEMO}/tiny-strong`, `${DEMO}/no-such-model`));
  t.is(r.code, 2);
  oneLine(t, r.stderr, /sat\.agents\[0\]\.upgrade of .* names no model: .*no-such-model is no folder/);
  r = satWithEnv(
    { HF_HOME: path.join(dir, 'hf') },
    'team',
    'create',
    '--config',
    demoConfig((x) => x.replace(`${DEMO}/tiny-weak`, 'Qwen/Qwen3-99B')),
    '--check',
    '--offline',
  );
  t.is(r.code, 2);
  oneLine(t, r.stderr, /offline: Qwen\/Qwen3-99B at revision main is not in the Hugging Face cache/);
});

test('team --help lists the team subcommands with their usage; team alone names them in one line', (t) => {
  for (const args of [
    ['team', '--help'],
    ['--help', 'team'],
    ['team', '-h'],
  ]) {
    const r = sat(...args);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /^Usage: sat-peer team <create\|show> \[options\]$/m);
    t.regex(r.stdout, /^ {4}sat-peer team create --config <file> --out <team file> .*\[--check\]$/m);
    t.regex(r.stdout, /^ {4}sat-peer team show <team file> \[--json\]$/m);
    t.is(r.stderr, '');
  }
  t.regex(sat('team', 'create', '--help').stdout, /--check/);
  let r = sat('team');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /unknown command 'team'; did you mean 'team create' or 'team show'\?/);
  r = sat('team', 'remove', '--help');
  t.is(r.code, 2);
  oneLine(t, r.stderr, /unknown command 'team remove'/);
});

test('the same config, data and models in two folders make the same team, whose file names no folder of this machine', (t) => {
  const made = [tmp(), tmp()].map((dir) => {
    const team = path.join(dir, 'my-team');
    fs.mkdirSync(team);
    for (const f of ['demo.yaml', 'train.jsonl', 'test.jsonl', 'tiny-weak', 'tiny-strong'])
      fs.cpSync(path.join(DEMO, f), path.join(team, f), { recursive: true });
    const file = path.join(team, 'team.yaml');
    const r = sat('team', 'create', '--config', path.join(team, 'demo.yaml'), '--out', file, '--json');
    t.is(r.code, 0, r.stderr);
    return { dir, team, file, id: JSON.parse(r.stdout).id as string, text: fs.readFileSync(file, 'utf8') };
  });
  t.is(made[0].id, made[1].id);
  for (const { text } of made) {
    for (const { dir } of made) t.false(text.includes(dir), text);
    t.false(text.includes(ROOT), text);
    t.false(text.includes(os.tmpdir()), text);
  }
  // Read back, the paths are the folder's own, wherever the folder is now.
  const moved = path.join(tmp(), 'elsewhere');
  fs.renameSync(made[1].team, moved);
  const shown = JSON.parse(sat('team', 'show', path.join(moved, 'team.yaml'), '--json').stdout);
  t.is(shown.id, made[0].id);
  t.is(shown.models[0].path, path.join(moved, 'tiny-weak'));
  t.is(shown.models[0].upgrade, path.join(moved, 'tiny-strong'));
  t.is(shown.dataset.path, path.join(moved, 'train.jsonl'));
  // start finds the data sets beside the moved team file (it goes on to plan its memory, and refuses --memory 0.05).
  const r = sat(
    'start',
    '--team',
    path.join(moved, 'team.yaml'),
    '--model',
    path.join(moved, 'tiny-weak'),
    '--slot',
    '0',
    '--data-dir',
    path.join(moved, 'p'),
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--memory',
    '0.05',
  );
  t.is(r.code, 2);
  oneLine(t, r.stderr, /tiny-weak needs about [\d.]+ GiB .* and --memory gives it 0\.1 GiB/);
});
