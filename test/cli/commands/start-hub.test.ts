// `sat-peer start --model qwen3-0.6b` as a user runs it, against a local stand-in for the Hugging Face hub
// (HF_ENDPOINT) that serves a checkpoint of Qwen3-0.6B's real shape and tokenizer as Qwen/Qwen3-0.6B: a download
// that breaks off is one error line and leaves its partial file in the cache, the next run resumes it from there
// with a progress line, checks it and joins the team; offline, the cache alone is enough.
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { SHA, startHub } from '../../agent/hub/fake-hub.ts';
import { ROOT, demoTeamFolder, sat } from '../run-cli.ts';
import { tempDir } from '../../temp-dir.ts';

const REPO = 'Qwen/Qwen3-0.6B';
/** Where the first download breaks off: about a quarter into the 1.19 GB weights (every smaller file arrives whole). */
const CUT = 300 * 2 ** 20;

interface Run {
  child: ChildProcess;
  /** The JSON lines of stdout so far. */
  events: Record<string, unknown>[];
  /** The lines of stderr so far. */
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `sat-peer start ... --json` as a process, with `env` added to an environment cleared of the hub's variables. */
function start(env: Record<string, string>, args: string[]): Run {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HF_')));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/sat-peer.js'), 'start', ...args, '--json'], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    child,
    events: [],
    stderr: [],
    exit: new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal }))),
  };
  readline.createInterface({ input: child.stdout! }).on('line', (l) => run.events.push(JSON.parse(l)));
  readline.createInterface({ input: child.stderr! }).on('line', (l) => run.stderr.push(l));
  return run;
}

/** The run's `joined` event; fails when the process exits before it, or has not joined within `ms`. */
async function joined(run: Run, ms = 150_000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  for (;;) {
    const event = run.events.find((e) => e.event === 'joined');
    if (event) return event;
    if (run.child.exitCode !== null || Date.now() > end) {
      const why = run.child.exitCode !== null ? `exited (${run.child.exitCode})` : `did not join in ${ms / 1000} s`;
      throw new Error(`start ${why}:\n${run.stderr.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Whether two files hold the same bytes, read a piece at a time. */
function sameBytes(a: string, b: string): boolean {
  if (fs.statSync(a).size !== fs.statSync(b).size) return false;
  const [fa, fb] = [fs.openSync(a, 'r'), fs.openSync(b, 'r')];
  const [ba, bb] = [Buffer.alloc(16 * 2 ** 20), Buffer.alloc(16 * 2 ** 20)];
  try {
    for (;;) {
      const n = fs.readSync(fa, ba);
      if (fs.readSync(fb, bb) !== n || !ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
      if (n === 0) return true;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

/** The progress lines of model.safetensors on a stderr that is no terminal, as percentages. */
const weightsProgress = (stderr: string[]) =>
  stderr.flatMap((l) => {
    const m = /^model\.safetensors \[[#.]{30}\] (\d+)% \S+ [kMG]B\/1\.19 GB$/.exec(l);
    return m ? [Number(m[1])] : [];
  });

test('start --model qwen3-0.6b downloads from HF_ENDPOINT, resumes a broken download and joins; offline, from the cache', async (t) => {
  t.timeout(420_000); // about 1.5 min on 2 cores: 1.19 GB written, downloaded in two parts, and loaded twice
  const runs: Run[] = [];
  t.teardown(() => {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  });

  // A checkpoint of the real shape with the real Qwen3 tokenizer, which the team's slots name too.
  const model = path.join(tempDir('sat-start-hub-model-'), 'qwen3-0.6b');
  const init = sat('model', 'init', '--like', 'qwen3-0.6b', '--out', model, '--seed', '1');
  t.is(init.code, 0, init.stderr);
  const { dir, config } = demoTeamFolder(
    'sat-start-hub-',
    8,
    `
seed: 5
dataset: { train_path: train.jsonl, test_path: test.jsonl }
data: { train_batch_size: 2, max_response_length: 16 }
sat:
  group_size: 2
  agents: [{ name: first, path: ${model} }, { name: second, path: ${model} }]
training: { num_stages: 1, lora: { rank: 8, alpha: 16, targets: [q_proj, v_proj] } }
`,
  );
  const teamFile = path.join(dir, 'team-file.yaml');
  const created = sat('team', 'create', '--config', config, '--out', teamFile, '--json');
  t.is(created.code, 0, created.stderr);
  const { id } = JSON.parse(created.stdout) as { id: string };

  const files = Object.fromEntries(fs.readdirSync(model).map((f) => [f, { path: path.join(model, f) }]));
  t.deepEqual(Object.keys(files).sort(), [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  const [cut, hub] = await Promise.all([startHub({ [REPO]: files }, { cutAt: CUT }), startHub({ [REPO]: files })]);
  t.teardown(() => Promise.all([cut.close(), hub.close()]));

  const hfHome = path.join(dir, 'hf');
  const dataDir = path.join(dir, 'peer');
  const repoDir = path.join(hfHome, 'hub', 'models--Qwen--Qwen3-0.6B');
  const blobs = path.join(repoDir, 'blobs');
  const args = [
    '--team',
    teamFile,
    '--model',
    'qwen3-0.6b',
    '--memory',
    '8',
    '--data-dir',
    dataDir,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--threads',
    '1',
  ];
  const size = fs.statSync(files['model.safetensors'].path).size;

  // 1. The hub closes the connection CUT bytes into the weights: the run fails in one line, keeping what came.
  const broken = start({ HF_HOME: hfHome, HF_ENDPOINT: cut.url }, args);
  runs.push(broken);
  t.like(await broken.exit, { code: 2 }, broken.stderr.join('\n'));
  const errors = broken.stderr.filter((l) => l.startsWith('sat-peer: '));
  t.is(errors.length, 1, broken.stderr.join('\n'));
  t.is(broken.stderr.at(-1), errors[0], 'the error is the last line');
  t.regex(
    errors[0],
    new RegExp(
      `^sat-peer: ${cut.url}/${REPO}/resolve/${SHA}/model\\.safetensors: ` +
        `download of model\\.safetensors broke off at ${CUT} of ${size} bytes ` +
        '\\(.+\\); run again to resume it$',
    ),
  );
  t.notRegex(broken.stderr.join('\n'), /\n\s+at /, 'no stack trace');
  t.deepEqual(broken.events, [], 'nothing joined');
  t.false(fs.existsSync(dataDir), 'the peer never started');
  const partial = fs.readdirSync(blobs).filter((f) => f.endsWith('.incomplete'));
  t.is(partial.length, 1);
  t.regex(partial[0], /^[0-9a-f]{64}\.incomplete$/, 'named by the sha256 the hub gave the weights');
  t.is(fs.statSync(path.join(blobs, partial[0])).size, CUT, 'what arrived is kept');
  t.false(fs.existsSync(path.join(repoDir, 'snapshots')), 'no half snapshot');

  // 2. Against a healthy hub the weights are asked for from where they broke off, not from 0.
  const resumed = start({ HF_HOME: hfHome, HF_ENDPOINT: hub.url }, args);
  runs.push(resumed);
  const event = await joined(resumed);
  t.like(event, { team: id });
  t.true(event.slot === 0 || event.slot === 1, `claimed slot ${event.slot}`);
  const weightsGets = hub.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/cdn/'));
  t.deepEqual(
    weightsGets.map((r) => r.range),
    [`bytes=${CUT}-`],
    'one GET of the weights, resumed where the partial file ends',
  );
  t.false(
    hub.requests.some((r) => r.method === 'GET' && /\/resolve\/.*\/(config|tokenizer)/.test(r.url)),
    'the files that arrived whole are not fetched again',
  );
  // Without a terminal the bar is a line per tenth, from where the download resumed to the end.
  const shown = weightsProgress(resumed.stderr);
  t.is(shown[0], Math.floor((100 * CUT) / size), resumed.stderr.join('\n'));
  t.is(shown.at(-1), 100);
  t.true(resumed.stderr.includes(`model.safetensors [${'#'.repeat(30)}] 100% 1.19 GB/1.19 GB`));
  const snapshot = path.join(repoDir, 'snapshots', SHA);
  for (const f of Object.keys(files))
    t.true(sameBytes(path.join(snapshot, f), files[f].path), `${f} as the hub has it`);
  t.deepEqual(
    fs.readdirSync(blobs).filter((f) => f.endsWith('.incomplete')),
    [],
  );
  resumed.child.kill('SIGTERM');
  t.deepEqual(await resumed.exit, { code: 143, signal: null }, 'stopped by its own handler on SIGTERM');
  t.deepEqual(
    resumed.stderr.filter((l) => l.startsWith('sat-peer: ')),
    [`sat-peer: stopped (SIGTERM); the same command resumes from the last complete stage saved in ${dataDir}`],
    'no error, only the line on stopping',
  );

  // 3. --offline: the cache is enough, and the hub hears nothing.
  const before = [hub.requests.length, cut.requests.length];
  const offline = start({ HF_HOME: hfHome, HF_ENDPOINT: hub.url }, [...args, '--offline']);
  runs.push(offline);
  t.like(await joined(offline), { team: id });
  t.deepEqual([hub.requests.length, cut.requests.length], before, 'no request to the hub');
  t.deepEqual(weightsProgress(offline.stderr), [], 'nothing downloaded');
  offline.child.kill('SIGTERM');
  t.deepEqual(await offline.exit, { code: 143, signal: null });
});
