// `sat-peer start` as a user runs it, up to joining: a model that fits no slot, a busy port (to listen on, or
// for --http), --stages past the team's last and a team that is neither a file nor an id are one line each; the
// default data dir is the team's own and is printed; SIGINT stops the peer with a line saying how to resume, and
// exit code 130; with --http the page shows the peer joining, then the peer, and is printed as one to open.
import test, { type ExecutionContext } from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { DEMO, FIXTURE, ROOT, demoConfig, oneLine, sat, satWithEnv } from '../run-cli.ts';
import { tempDir } from '../../temp-dir.ts';

/** A team file of the demo config (optionally edited), named team.yaml in a folder of its own, and its id. */
function teamFile(edit?: (text: string) => string): { file: string; id: string } {
  const file = path.join(tempDir('sat-start-team-'), 'team.yaml');
  const r = sat('team', 'create', '--config', demoConfig(edit), '--out', file);
  if (r.code !== 0) throw new Error(r.stderr);
  return { file, id: /^# sat-peer team manifest; team id (\S+)/.exec(fs.readFileSync(file, 'utf8'))![1] };
}

const TEAM = teamFile();

/** A copy of the fixture's weights with Qwen3's tokenizer: a model of no slot of the demo team. */
function otherTokenizerModel(): string {
  const dir = tempDir('sat-start-model-');
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    fs.copyFileSync(path.join(ROOT, 'test/fixtures/qwen3-tokenizer', f), path.join(dir, f));
  return dir;
}

/** `sat-peer start` with a HOME of its own (a fresh temp folder unless given), the loopback, no bootstrap. */
function start(args: string[], home = tempDir('sat-start-home-')) {
  return satWithEnv({ HOME: home }, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', ...args);
}

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `sat-peer start ...args` as a process, with HOME set to `home`. */
function spawnStart(home: string, args: string[]): Run {
  const child = spawn(process.execPath, ['bin/sat-peer.js', 'start', '--listen', '/ip4/127.0.0.1/tcp/0', ...args], {
    cwd: ROOT,
    env: { ...process.env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    child,
    stdout: [],
    stderr: [],
    exit: new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal }))),
  };
  readline.createInterface({ input: child.stdout! }).on('line', (l) => run.stdout.push(l));
  readline.createInterface({ input: child.stderr! }).on('line', (l) => run.stderr.push(l));
  return run;
}

/** Waits until `ok` holds of the run, failing when the process exits first or `ms` pass. */
async function until(run: Run, ok: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (run.child.exitCode !== null || Date.now() > end)
      throw new Error(`${what}: ${run.child.exitCode !== null ? 'exited' : 'timed out'}:\n${run.stderr.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a model whose tokenizer fits no slot of the team: exit 2, one line saying so, no hang', (t) => {
  const r = start(['--model', otherTokenizerModel(), '--team', TEAM.file]);
  t.is(r.code, 2, r.stderr);
  oneLine(t, r.stderr, /fits no slot of this team: its tokenizer differs from every slot's/);
  t.notRegex(r.stderr, /held/);
});

test('a busy listen port: exit 2, one line naming the address and what to do', async (t) => {
  const server = net.createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = satWithEnv(
      { HOME: tempDir('sat-start-home-') },
      'start',
      '--model',
      path.join(DEMO, 'tiny-weak'),
      '--team',
      TEAM.file,
      '--listen',
      `/ip4/127.0.0.1/tcp/${port}`,
    );
    t.is(r.code, 2, r.stderr);
    oneLine(
      t,
      r.stderr,
      new RegExp(`^sat-peer: cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port}: the address is in use .*--listen`),
    );
  } finally {
    server.close();
  }
});

test('a busy --http port: exit 2, one line naming it, before the peer joins (no slot held)', async (t) => {
  const server = net.createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = start(['--model', path.join(DEMO, 'tiny-weak'), '--team', TEAM.file, '--http', `127.0.0.1:${port}`]);
    t.is(r.code, 2, r.stderr);
    oneLine(
      t,
      r.stderr,
      new RegExp(`^sat-peer: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*--http`),
    );
    t.notRegex(r.stderr, /holds slot/);
  } finally {
    server.close();
  }
});

test("--stages past the team's training.num_stages: exit 2, one line, before the peer joins", (t) => {
  const r = start(['--model', path.join(DEMO, 'tiny-weak'), '--team', TEAM.file, '--stages', '100']);
  t.is(r.code, 2, r.stderr);
  oneLine(t, r.stderr, /--stages 100 is past the team's last stage: its training\.num_stages is 10; give --stages 10/);
});

test('--team that is neither a file nor a team id: exit 2, one line', (t) => {
  const r = start(['--model', path.join(DEMO, 'tiny-weak'), '--team', 'teem.yaml']);
  t.is(r.code, 2, r.stderr);
  oneLine(t, r.stderr, /no team file or team id "teem\.yaml"/);
});

test(
  'two teams of one file name get data dirs of their own, printed; the wait says how long and how many peers; ' +
    'SIGINT stops with a line on resuming and exit code 130',
  async (t) => {
    const home = tempDir('sat-start-home-');
    const other = teamFile((text) => text.replace('seed: 7', 'seed: 8'));
    t.not(other.id, TEAM.id);
    t.is(path.basename(other.file), path.basename(TEAM.file));
    const model = path.join(DEMO, 'tiny-weak');
    const runs = [TEAM, other].map((team) => spawnStart(home, ['--model', model, '--team', team.file, '--json']));
    try {
      const joined = [];
      for (const run of runs) {
        await until(run, () => run.stdout.some((l) => l.includes('"joined"')), 'join');
        joined.push(JSON.parse(run.stdout.find((l) => l.includes('"joined"'))!));
      }
      const dirs = [TEAM, other].map((team) => path.join(home, '.sat-peer', team.id));
      t.deepEqual(
        joined.map((j) => j.dataDir),
        dirs,
      );
      t.not(joined[0].peerId, joined[1].peerId, 'each team has an identity of its own');
      t.true(dirs.every((d) => fs.existsSync(d)));
      const [run] = runs;
      await until(run, () => run.stderr.some((l) => /waiting for the team/.test(l)), 'wait');
      t.regex(
        run.stderr.find((l) => /waiting for the team/.test(l))!,
        /^stage 0: waiting for the team \(slot 1 has no peer\) for \d+ s, \d+ peers? connected$/,
      );
      run.child.kill('SIGINT');
      t.deepEqual(await run.exit, { code: 130, signal: null });
      t.regex(
        run.stderr.at(-1)!,
        new RegExp(
          `^sat-peer: stopped \\(SIGINT\\); the same command resumes from the last complete stage saved in ${dirs[0]}`,
        ),
      );
    } finally {
      for (const r of runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    }
  },
);

/** The data dir a human start prints, with HOME at `home`; the peer is then stopped with SIGTERM (exit 143). */
async function printedDataDir(t: ExecutionContext, home: string): Promise<string | undefined> {
  const run = spawnStart(home, ['--model', path.join(DEMO, 'tiny-weak'), '--team', TEAM.file]);
  try {
    await until(run, () => run.stderr.some((l) => /^data dir /.test(l)), 'data dir line');
    return run.stderr.find((l) => l.startsWith('data dir '))?.split(' ')[2];
  } finally {
    run.child.kill('SIGTERM');
    t.is((await run.exit).code, 143);
  }
}

test('the human start prints the data dir in use', async (t) => {
  const home = tempDir('sat-start-home-');
  t.is(await printedDataDir(t, home), path.join(home, '.sat-peer', TEAM.id));
});

test("a peer that ran this team under the team file's name keeps that data dir", async (t) => {
  const home = tempDir('sat-start-home-');
  const before = path.join(home, '.sat-peer', path.basename(TEAM.file).replace(/\.ya?ml$/, ''));
  fs.mkdirSync(before, { recursive: true });
  fs.writeFileSync(path.join(before, 'claims.json'), `${JSON.stringify({ [`${TEAM.id}/0/claim`]: 1 })}\n`);
  t.is(await printedDataDir(t, home), before);
  // Another team's claims there do not count: that team's peer gets a dir by its id.
  fs.writeFileSync(path.join(before, 'claims.json'), `${JSON.stringify({ 'bafkreiother/0/claim': 1 })}\n`);
  t.is(await printedDataDir(t, home), path.join(home, '.sat-peer', TEAM.id));
});

test('a peer whose claim on a slot came second stays as its replica; one data dir holds one peer', async (t) => {
  const model = path.join(DEMO, 'tiny-weak');
  const first = spawnStart(tempDir('sat-start-home-'), [
    '--model',
    model,
    '--team',
    TEAM.file,
    '--slot',
    '0',
    '--json',
  ]);
  const runs = [first];
  try {
    await until(first, () => first.stdout.some((l) => l.includes('"joined"')), 'join');
    const joined = JSON.parse(first.stdout.find((l) => l.includes('"joined"'))!);
    // A second peer on the same data dir is refused before it starts.
    const again = start(['--model', model, '--team', TEAM.file, '--data-dir', joined.dataDir]);
    t.is(again.code, 2, again.stderr);
    oneLine(
      t,
      again.stderr,
      /the data dir .* is in use by another peer \(pid \d+\): give each peer its own --data-dir/,
    );
    // Another peer claims the same slot later: it stays, behind the first (its replica), and waits for the team.
    const second = spawnStart(tempDir('sat-start-home-'), [
      ...['--model', model, '--team', TEAM.file, '--slot', '0', '--bootstrap', joined.addresses[0]],
    ]);
    runs.push(second);
    await until(second, () => second.stderr.some((l) => /waiting for the team/.test(l)), 'waiting for the team');
    t.is(second.child.exitCode, null, second.stderr.join('\n'));
    t.true(
      second.stderr.some((l) =>
        new RegExp(`is a replica of slot 0 .* behind its trainer ${joined.peerId}|claims slot 0`).test(l),
      ),
      second.stderr.join('\n'),
    );
  } finally {
    for (const r of runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  }
});

test('--http 0.0.0.0:0: the page is printed as a loopback URL to open, served on every interface; status finds it', async (t) => {
  const home = tempDir('sat-start-home-');
  const dataDir = path.join(home, 'peer');
  const run = spawnStart(home, [
    '--model',
    path.join(DEMO, 'tiny-weak'),
    '--team',
    TEAM.file,
    '--data-dir',
    dataDir,
    '--http',
    '0.0.0.0:0',
  ]);
  try {
    await until(run, () => run.stderr.some((l) => l.startsWith('status page at ')), 'status page line');
    const line = run.stderr.find((l) => l.startsWith('status page at '))!;
    t.regex(line, /^status page at http:\/\/127\.0\.0\.1:\d+\/ \(served on every interface\)$/);
    const url = line.split(' ')[3];
    const r = sat('status', '--data-dir', dataDir);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`^peer 12D3KooW\\S+, slot 0 at ${url.replace(/\./g, '\\.')}$`, 'm'));
    t.regex(r.stdout, /, \d+ peers? connected$/m);
  } finally {
    run.child.kill('SIGTERM');
    t.is((await run.exit).code, 143);
  }
  t.false(fs.existsSync(path.join(dataDir, 'status.json')), 'the page is no longer named there');
});
