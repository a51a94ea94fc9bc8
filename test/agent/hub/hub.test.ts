// resolveModel against a local HTTP server that answers like the Hugging Face hub (api/models, resolve
// with ETag / X-Linked-Etag, a CDN redirect for LFS files, Range; fake-hub.ts), with a temp HF_HOME per test.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../../../node/agent/model/checkpoint.ts';
import { Generator } from '../../../node/agent/model/generate.ts';
import { progressBar, resolveModel } from '../../../node/agent/hub/hub.ts';
import { EMBEDDED_MODELS, HUB_MODELS, parseModelSpec } from '../../../node/agent/hub/model-names.ts';
import { readSafetensorsHeader } from '../../../node/gpu/safetensors.ts';
import { tempDir } from '../../temp-dir.ts';
import { etagOf, SHA, sha256, startHub } from './fake-hub.ts';

const SOURCE = new URL('../../../models/demo/tiny-weak/', import.meta.url).pathname;
const FILES: Record<string, Buffer> = Object.fromEntries(
  fs.readdirSync(SOURCE).map((f) => [f, fs.readFileSync(path.join(SOURCE, f))]),
);
const WEIGHTS = FILES['model.safetensors'];
const REPO = 'Qwen/Qwen3-Tiny';
const repoDir = (home: string, repo = REPO) => path.join(home, 'hub', `models--${repo.replace('/', '--')}`);

const tempHome = () => tempDir('sat-hf-home-');

/** Every entry under `dir` that is a symlink leading outside it. */
function symlinksOut(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => {
    const p = path.join(dir, f);
    return fs.lstatSync(p).isSymbolicLink() && path.relative(dir, fs.realpathSync(p)).startsWith('..');
  });
}

test('model names resolve to hub repos, the embedded folders, or a folder as is', async (t) => {
  t.is((parseModelSpec('qwen3-4b') as { repo: string }).repo, 'Qwen/Qwen3-4B');
  t.deepEqual(
    Object.values(HUB_MODELS),
    ['0.6B', '1.7B', '4B', '8B', '14B', '32B'].map((s) => `Qwen/Qwen3-${s}`),
  );
  t.deepEqual(parseModelSpec('Qwen3-32B'), { kind: 'hub', name: 'qwen3-32b', repo: 'Qwen/Qwen3-32B' });
  t.deepEqual(parseModelSpec('someone/my-qwen3'), { kind: 'hub', name: 'someone/my-qwen3', repo: 'someone/my-qwen3' });

  const weak = await resolveModel('tiny-weak');
  t.deepEqual(weak, { dir: path.resolve(SOURCE), name: 'tiny-weak', source: 'embedded' });
  t.is(EMBEDDED_MODELS['tiny-strong'], path.resolve(SOURCE, '../tiny-strong'));
  loadCheckpoint(weak.dir);

  const dir = tempHome();
  t.deepEqual(await resolveModel(dir), { dir, name: path.basename(dir), source: 'path' });

  const err = await t.throwsAsync(resolveModel('qwen3-5b'), { name: 'ModelNotFoundError' });
  for (const name of ['tiny-weak', 'tiny-strong', 'qwen3-0.6b', 'qwen3-32b', 'folder path'])
    t.true(err!.message.includes(name), err!.message);
  await t.throwsAsync(resolveModel(path.join(SOURCE, 'config.json')), {
    name: 'ModelNotFoundError',
    message: /is a file/,
  });
});

test('a hub repo downloads into the HF cache layout, loads, and is found there again with no request', async (t) => {
  const hub = await startHub({ [REPO]: FILES });
  t.teardown(hub.close);
  const home = tempHome();
  const seen: { file: string; bytes: number; total: number }[] = [];
  const model = await resolveModel(REPO, {
    endpoint: hub.url,
    hfHome: home,
    token: 'hf_secret',
    progress: (p) => seen.push(p),
  });

  const root = repoDir(home);
  t.like(model, { name: REPO, repo: REPO, commit: SHA, source: 'download', dir: path.join(root, 'snapshots', SHA) });
  t.is(fs.readFileSync(path.join(root, 'refs', 'main'), 'utf8'), SHA);
  t.deepEqual(fs.readdirSync(model.dir).sort(), Object.keys(FILES).sort());
  for (const [file, body] of Object.entries(FILES)) {
    const entry = path.join(model.dir, file);
    t.true(fs.readFileSync(entry).equals(body), file);
    t.is(
      fs.readlinkSync(entry),
      path.join('..', '..', 'blobs', etagOf(file, body)),
      `${file} is a relative symlink to its blob, as huggingface_hub makes it`,
    );
  }
  t.true(fs.existsSync(path.join(root, '.no_exist', SHA, 'generation_config.json')));
  const ckpt = loadCheckpoint(model.dir);
  t.is(ckpt.tensors.size, readSafetensorsHeader(path.join(SOURCE, 'model.safetensors')).size);
  t.deepEqual(seen.at(-1), { file: 'model.safetensors', bytes: WEIGHTS.length, total: WEIGHTS.length });
  t.true(
    hub.requests.some((r) => r.url.startsWith('/cdn/')),
    'the LFS redirect was followed',
  );
  t.true(hub.requests.every((r) => r.auth === 'Bearer hf_secret'));

  const before = hub.requests.length;
  t.like(await resolveModel(REPO, { endpoint: hub.url, hfHome: home }), {
    dir: model.dir,
    source: 'cache',
    commit: SHA,
  });
  t.like(await resolveModel(REPO, { endpoint: hub.url, hfHome: home, offline: true }), {
    dir: model.dir,
    source: 'cache',
  });
  t.is(hub.requests.length, before, 'no request once cached');

  fs.rmSync(path.join(model.dir, 'model.safetensors'));
  const err = await t.throwsAsync(resolveModel(REPO, { endpoint: hub.url, hfHome: home, offline: true }), {
    name: 'ModelNotFoundError',
  });
  t.regex(
    err!.message,
    /Qwen\/Qwen3-Tiny at revision main is not in the Hugging Face cache .*: snapshot a{40} lacks model\.safetensors \(or /,
  );
  t.is(hub.requests.length, before);
  t.like(await resolveModel(REPO, { endpoint: hub.url, hfHome: home }), { source: 'download' });
  t.deepEqual(
    hub.requests.slice(before).map((r) => r.method),
    ['GET', 'HEAD'],
    'only the weights were asked for; their blob was still there',
  );
});

test('a partial blob is resumed with a Range request', async (t) => {
  const hub = await startHub({ [REPO]: FILES });
  t.teardown(hub.close);
  const home = tempHome();
  const blobs = path.join(repoDir(home), 'blobs');
  fs.mkdirSync(blobs, { recursive: true });
  const half = Math.floor(WEIGHTS.length / 2);
  fs.writeFileSync(path.join(blobs, `${sha256(WEIGHTS)}.incomplete`), WEIGHTS.subarray(0, half));

  const model = await resolveModel(REPO, { endpoint: hub.url, hfHome: home });
  t.true(fs.readFileSync(path.join(model.dir, 'model.safetensors')).equals(WEIGHTS));
  const weightsGets = hub.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/cdn/'));
  t.deepEqual(
    weightsGets.map((r) => r.range),
    [`bytes=${half}-`],
    'one GET of the weights, from the middle (the Range survives the CDN redirect)',
  );
  t.false(fs.readdirSync(blobs).some((f) => f.endsWith('.incomplete')));
});

test('a broken-off transfer keeps its partial blob; a server that ignores Range gets the whole file again', async (t) => {
  const home = tempHome();
  const blobs = path.join(repoDir(home), 'blobs');
  const cut = await startHub({ [REPO]: FILES }, { cutAt: 100_000 });
  t.teardown(cut.close);
  const err = await t.throwsAsync(resolveModel(REPO, { endpoint: cut.url, hfHome: home }), {
    name: 'ModelDownloadError',
  });
  t.regex(err!.message, /download of model\.safetensors broke off at 100000 of \d+ bytes .*run again to resume/);
  t.is(fs.statSync(path.join(blobs, `${sha256(WEIGHTS)}.incomplete`)).size, 100_000);

  const whole = await startHub({ [REPO]: FILES }, { ignoreRange: true });
  t.teardown(whole.close);
  const model = await resolveModel(REPO, { endpoint: whole.url, hfHome: home });
  t.true(whole.requests.some((r) => r.range === 'bytes=100000-'));
  t.true(fs.readFileSync(path.join(model.dir, 'model.safetensors')).equals(WEIGHTS));
});

test('a corrupted transfer fails naming the file and both hashes, and leaves no snapshot', async (t) => {
  const hub = await startHub({ [REPO]: FILES }, { corrupt: 'model.safetensors' });
  t.teardown(hub.close);
  const home = tempHome();
  const err = await t.throwsAsync(resolveModel(REPO, { endpoint: hub.url, hfHome: home }), {
    name: 'ModelDownloadError',
  });
  t.regex(
    err!.message,
    new RegExp(`^model\\.safetensors: sha256 mismatch: expected ${sha256(WEIGHTS)}, got [0-9a-f]{64}`),
  );
  t.false(fs.existsSync(path.join(repoDir(home), 'snapshots')));
  t.false(fs.readdirSync(path.join(repoDir(home), 'blobs')).some((f) => f.endsWith('.incomplete')));

  const small = await startHub({ [REPO]: FILES }, { corrupt: 'config.json' });
  t.teardown(small.close);
  await t.throwsAsync(resolveModel(REPO, { endpoint: small.url, hfHome: tempHome() }), {
    name: 'ModelDownloadError',
    message: /^config\.json: git-sha1 mismatch/,
  });
});

test('offline with an empty cache names what is missing and makes no request', async (t) => {
  const hub = await startHub({ [REPO]: FILES });
  t.teardown(hub.close);
  const err = await t.throwsAsync(resolveModel('qwen3-4b', { endpoint: hub.url, hfHome: tempHome(), offline: true }), {
    name: 'ModelNotFoundError',
  });
  for (const part of ['Qwen/Qwen3-4B', 'no snapshot for revision main', 'without --offline', 'HF_HOME'])
    t.true(err!.message.includes(part), err!.message);
  t.is(hub.requests.length, 0);
});

test('network and hub failures are one clear error each', async (t) => {
  const closed = await startHub({});
  await closed.close();
  const down = await t.throwsAsync(resolveModel(REPO, { endpoint: closed.url, hfHome: tempHome() }), {
    name: 'ModelDownloadError',
  });
  t.true(down!.message.startsWith(`cannot reach the Hugging Face hub at ${closed.url} `), down!.message);
  t.regex(down!.message, /ECONNREFUSED.*HF_ENDPOINT/);

  const hub = await startHub({ [REPO]: FILES, 'Qwen/Broken': { 'config.json': FILES['config.json'] } });
  t.teardown(hub.close);
  const opts = { endpoint: hub.url, hfHome: tempHome() };
  await t.throwsAsync(resolveModel('Qwen/Nope', opts), {
    name: 'ModelDownloadError',
    message: /^repo Qwen\/Nope not found \(404 from http.*check the model name/,
  });
  await t.throwsAsync(resolveModel('Qwen/Gated', opts), {
    name: 'ModelDownloadError',
    message: /^Qwen\/Gated is gated .*HF_TOKEN/,
  });
  await t.throwsAsync(resolveModel('Qwen/Broken', opts), {
    name: 'ModelFormatError',
    message: /has no tokenizer\.json/,
  });
});

test('a sharded checkpoint downloads its index and every shard it names', async (t) => {
  const shard = 'model-00001-of-00001.safetensors';
  const names = [...readSafetensorsHeader(path.join(SOURCE, 'model.safetensors')).keys()];
  const index = Buffer.from(
    JSON.stringify({
      metadata: { total_size: WEIGHTS.length },
      weight_map: Object.fromEntries(names.map((n) => [n, shard])),
    }),
  );
  const { 'model.safetensors': _, ...rest } = FILES;
  const hub = await startHub({
    'Qwen/Qwen3-Sharded': { ...rest, 'model.safetensors.index.json': index, [shard]: WEIGHTS },
  });
  t.teardown(hub.close);
  const model = await resolveModel('Qwen/Qwen3-Sharded', { endpoint: hub.url, hfHome: tempHome() });
  t.deepEqual(fs.readdirSync(model.dir).sort(), [...Object.keys(rest), 'model.safetensors.index.json', shard].sort());
  t.is(path.basename(loadCheckpoint(model.dir).tensors.get(names[0])!.file), shard);
});

test('a huggingface_hub cache of symlinks is used as it is: its entries left alone, the weights read through them', async (t) => {
  const home = tempHome();
  const root = repoDir(home, 'Qwen/Qwen3-4B');
  const snapshot = path.join(root, 'snapshots', SHA);
  fs.mkdirSync(path.join(root, 'blobs'), { recursive: true });
  fs.mkdirSync(snapshot, { recursive: true });
  fs.mkdirSync(path.join(root, 'refs'));
  fs.writeFileSync(path.join(root, 'refs', 'main'), SHA);
  for (const [file, body] of Object.entries(FILES)) {
    fs.writeFileSync(path.join(root, 'blobs', etagOf(file, body)), body);
    fs.symlinkSync(path.join('..', '..', 'blobs', etagOf(file, body)), path.join(snapshot, file));
  }
  const links = symlinksOut(snapshot);
  t.not(links.length, 0);
  const model = await resolveModel('qwen3-4b', { hfHome: home, offline: true });
  t.like(model, { dir: snapshot, name: 'qwen3-4b', source: 'cache', commit: SHA });
  t.deepEqual(symlinksOut(snapshot), links, 'left as huggingface_hub wrote it');
  const ckpt = loadCheckpoint(model.dir);
  const gen = new Generator(ckpt, { threads: 1 });
  t.teardown(() => gen.release());
  const [out] = await gen.generate([[1, 2, 3]], { maxNewTokens: 2 });
  t.is(out.tokens.length, 2, 'its weights read through the symlinks');
});

test('the progress bar draws a line per tenth, or redraws one line on a terminal', (t) => {
  const out: string[] = [];
  const stream = { isTTY: false, write: (s: string) => out.push(s) > 0 } as unknown as NodeJS.WriteStream;
  const bar = progressBar(stream);
  for (let b = 0; b <= 1000; b += 25) bar({ file: 'model.safetensors', bytes: b, total: 1000 });
  bar({ file: 'model.safetensors', bytes: 1000, total: 1000 });
  t.is(out.length, 11);
  t.is(out.at(-1), `model.safetensors [${'#'.repeat(30)}] 100% 1.0 kB/1.0 kB\n`);

  out.length = 0;
  const tty = progressBar({ ...stream, isTTY: true } as NodeJS.WriteStream);
  for (let b = 0; b <= 1000; b += 250) tty({ file: 'x', bytes: b, total: 1000 });
  tty({ file: 'x', bytes: 1000, total: 1000 });
  t.is(out.length, 5);
  t.true(out.every((s) => s.startsWith('\r')));
  t.is(out.filter((s) => s.endsWith('\n')).length, 1);
});
