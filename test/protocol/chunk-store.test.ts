// The disk-backed chunk store: files split into content-addressed chunks and assembled back, the
// folder as the state across a restart, pins and gc, and what a crash or a bad disk leaves behind.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CID } from 'multiformats/cid';
import { contentId } from '../../node/protocol/cid.ts';
import {
  CHUNK_BYTES,
  type Manifest,
  decodeHave,
  decodeManifest,
  encodeHave,
  encodeManifest,
} from '../../node/protocol/chunk-codec.ts';
import { ChunkStore } from '../../node/protocol/chunk-store.ts';
import { MessageError } from '../../node/protocol/errors.ts';
import { tempDir } from '../temp-dir.ts';

const KiB = 1024;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

function sourceFile(dir: string, bytes: number): { file: string; data: Buffer } {
  const data = crypto.randomBytes(bytes);
  const file = path.join(dir, 'state.bin');
  fs.writeFileSync(file, data);
  return { file, data };
}

test('a file is put as 1 MiB chunk files and materialized byte for byte, streaming', async (t) => {
  const dir = tempDir('chunk-store-');
  const { file, data } = sourceFile(dir, 3 * CHUNK_BYTES + 12_345);
  const store = await ChunkStore.open(path.join(dir, 'chunks'));
  const meta = new TextEncoder().encode('{"dtype":"F32"}');
  const { cid, manifest } = await store.put([{ name: 'model.safetensors', source: file }], { meta });
  t.is(manifest.chunkBytes, CHUNK_BYTES);
  t.deepEqual(
    manifest.entries.map((e) => [e.name, e.bytes, e.chunks.length]),
    [['model.safetensors', data.length, 4]],
  );
  // One file per chunk, named by its CID, holding exactly its bytes; and the manifest, a block too.
  for (const [i, c] of manifest.entries[0].chunks.entries()) {
    const onDisk = fs.readFileSync(path.join(dir, 'chunks', c.toString()));
    t.true(same(onDisk, data.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)));
  }
  t.true(fs.existsSync(path.join(dir, 'chunks', cid.toString())));
  t.true(same((await store.manifest(cid))!.meta, meta));

  const out = path.join(dir, 'out', 'state.bin');
  t.is(await store.materialize(cid, out), data.length);
  t.true(same(fs.readFileSync(out), data));
  t.deepEqual(fs.readdirSync(path.join(dir, 'out')), ['state.bin'], 'no temporary file is left');
});

test('entries from bytes and streams; equal chunks are stored once; one entry is materialized alone', async (t) => {
  const dir = tempDir('chunk-store-');
  const store = await ChunkStore.open(dir);
  const zeros = new Uint8Array(4 * 64 * KiB); // four equal chunks
  const noise = crypto.randomBytes(100 * KiB);
  async function* pieces() {
    for (let at = 0; at < noise.length; at += 7000) yield noise.subarray(at, at + 7000);
  }
  const { cid, manifest } = await store.put(
    [
      { name: 'zeros', source: zeros },
      { name: 'noise', source: pieces() },
      { name: 'empty', source: new Uint8Array(0) },
    ],
    { chunkBytes: 64 * KiB },
  );
  t.deepEqual(
    manifest.entries.map((e) => [e.name, e.bytes, e.chunks.length]),
    [
      ['zeros', zeros.length, 4],
      ['noise', noise.length, 2],
      ['empty', 0, 0],
    ],
  );
  t.is(store.size, 1 + 2 + 1, 'one zero chunk, two noise chunks, the manifest');
  const out = path.join(dir, 'noise.bin');
  await store.materialize(cid, out, { entry: 'noise' });
  t.true(same(fs.readFileSync(out), noise));
  const all = path.join(dir, 'all.bin');
  await store.materialize(manifest, all);
  t.true(same(fs.readFileSync(all), Buffer.concat([zeros, noise])));
});

test('the folder is the state: a reopened store has its blocks and pins; gc keeps what pins reach', async (t) => {
  const dir = tempDir('chunk-store-');
  let store = await ChunkStore.open(dir);
  const a = await store.put([{ name: 'a', source: crypto.randomBytes(200 * KiB) }], { chunkBytes: 64 * KiB });
  const b = await store.put([{ name: 'b', source: crypto.randomBytes(100 * KiB) }], { chunkBytes: 64 * KiB });
  store.pin(a.cid, 'agent/0');
  store.pin(b.cid, 'agent/1');

  store = await ChunkStore.open(dir); // a restart
  t.deepEqual(
    [...store.pins()].map(([l, c]) => [l, c.toString()]),
    [
      ['agent/0', a.cid.toString()],
      ['agent/1', b.cid.toString()],
    ],
  );
  t.is(store.size, 4 + 1 + 2 + 1);
  t.deepEqual(await store.gc(), { blocks: 0, bytes: 0 });

  store.unpin('agent/1');
  const freed = await store.gc();
  t.is(freed.blocks, 3, "b's two chunks and its manifest");
  t.is(freed.bytes, 100 * KiB + encodeManifest(b.manifest).byteLength);
  t.false(store.has(b.cid));
  t.true(store.missing(a.manifest).length === 0 && store.has(a.cid));

  store = await ChunkStore.open(dir);
  t.is(store.size, 4 + 1, 'what gc deleted stays deleted');
  t.deepEqual([...store.pins().keys()], ['agent/0']);
});

test('a chunk corrupted on disk is found when read: refused, deleted, counted, and fetched again', async (t) => {
  const dir = tempDir('chunk-store-');
  const store = await ChunkStore.open(dir);
  const data = crypto.randomBytes(300 * KiB);
  const { cid, manifest } = await store.put([{ name: 's', source: data }], { chunkBytes: 64 * KiB });
  const bad = manifest.entries[0].chunks[2];
  const file = path.join(dir, bad.toString());
  const bytes = fs.readFileSync(file);
  bytes[100] ^= 0xff;
  fs.writeFileSync(file, bytes);

  await t.throwsAsync(store.materialize(cid, path.join(dir, 'out.bin')), {
    name: 'ChunkStoreError',
    message: new RegExp(`chunk ${bad} is missing or corrupt`),
  });
  t.false(fs.existsSync(path.join(dir, 'out.bin')), 'nothing is written in its place');
  t.is(store.counters.corrupt, 1);
  t.false(store.has(bad));
  t.false(fs.existsSync(file));
  t.deepEqual(store.missing(manifest).map(String), [bad.toString()], 'the one chunk to fetch again');
  await t.throwsAsync(store.materialize(cid, path.join(dir, 'out.bin')), {
    name: 'ChunkStoreError',
    message: /^1 chunks of the manifest are not in/,
  });
  // Put again (or fetched), it is whole.
  await store.put([{ name: 's', source: data }], { chunkBytes: 64 * KiB });
  await store.materialize(cid, path.join(dir, 'out.bin'));
  t.true(same(fs.readFileSync(path.join(dir, 'out.bin')), data));
});

test('a temporary file left by a killed write is ignored and removed when the store opens', async (t) => {
  const dir = tempDir('chunk-store-');
  const chunk = crypto.randomBytes(64 * KiB);
  const cid = contentId(chunk);
  fs.writeFileSync(path.join(dir, `${cid}.tmp-99999-0`), chunk.subarray(0, 1000)); // a half-written chunk
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not ours'); // left alone
  const store = await ChunkStore.open(dir);
  t.is(store.counters.tempsRemoved, 1);
  t.false(store.has(cid));
  t.is(store.size, 0);
  t.deepEqual(fs.readdirSync(dir).sort(), ['notes.txt']);
  t.is(await store.get(cid), undefined);
  t.deepEqual(await store.gc(), { blocks: 0, bytes: 0 });
  t.true(fs.existsSync(path.join(dir, 'notes.txt')));
});

test('a pins file that is no JSON object of CIDs is refused with what to do', async (t) => {
  const dir = tempDir('chunk-store-');
  fs.writeFileSync(path.join(dir, 'pins.json'), '{"agent": "not a cid"}');
  await t.throwsAsync(ChunkStore.open(dir), {
    name: 'ChunkStoreError',
    message: /which is no block CID: fix or delete it/,
  });
  fs.writeFileSync(path.join(dir, 'pins.json'), '[1, 2');
  await t.throwsAsync(ChunkStore.open(dir), { name: 'ChunkStoreError', message: /delete it to drop every pin/ });
});

test('gc keeps the chunks of a put in progress', async (t) => {
  const dir = tempDir('chunk-store-');
  const store = await ChunkStore.open(dir);
  const data = crypto.randomBytes(512 * KiB);
  let gcDuring: Promise<{ blocks: number }> | undefined;
  async function* slow() {
    for (let at = 0; at < data.length; at += 64 * KiB) {
      yield data.subarray(at, at + 64 * KiB);
      if (at === 256 * KiB) gcDuring = store.gc();
    }
  }
  const { cid } = await store.put([{ name: 's', source: slow() }], { chunkBytes: 64 * KiB });
  t.is((await gcDuring!).blocks, 0);
  await store.materialize(cid, path.join(dir, 'out.bin'));
  t.true(same(fs.readFileSync(path.join(dir, 'out.bin')), data));
});

test('a gc running while puts and pins go on deletes only what no pin or hold reaches', async (t) => {
  const dir = tempDir('chunk-store-');
  const store = await ChunkStore.open(dir);
  // Many pinned manifests, so that a gc takes a while to see what they reach, and unpinned blocks to delete.
  for (let i = 0; i < 100; i++) {
    const { cid } = await store.put([{ name: 'other', source: crypto.randomBytes(KiB) }]);
    store.pin(cid, `other/${i}`);
  }
  for (let i = 0; i < 100; i++) await store.putBlock(crypto.randomBytes(KiB));
  const versions = Array.from({ length: 6 }, () => crypto.randomBytes(256 * KiB));
  const gcs: Promise<unknown>[] = [];
  let last: CID | undefined;
  for (const data of versions) {
    // Each version replaces the last under one label, as a slot's state does, with gcs running as it goes in.
    gcs.push(store.gc(), store.gc());
    ({ cid: last } = await store.put([{ name: 'state', source: data }], { chunkBytes: 16 * KiB, pin: 'state' }));
  }
  await Promise.all(gcs);
  const manifest = (await store.manifest(last!))!;
  t.is(store.missing(manifest).length, 0, 'every chunk of the pinned version is there');
  await store.materialize(manifest, path.join(dir, 'out.bin'));
  t.true(same(fs.readFileSync(path.join(dir, 'out.bin')), versions.at(-1)!));
  await store.gc();
  t.is(store.size, 200 + 1 + 16, 'the earlier versions and the unpinned blocks are gone');
});

test('manifests and haves: encoded and decoded; bad ones refused with a reason', (t) => {
  const c = (x: number) => contentId(Uint8Array.of(x));
  const m: Manifest = {
    chunkBytes: 4 * KiB,
    entries: [{ name: 'w', bytes: 9000, chunks: [c(1), c(2), c(3)] }],
    meta: Uint8Array.of(1, 2),
  };
  const bytes = encodeManifest(m);
  const d = decodeManifest(bytes);
  t.true(d.ok);
  if (d.ok) t.deepEqual(d.message.entries[0].chunks.map(String), m.entries[0].chunks.map(String));
  const refuse = (x: Manifest, reason: string) =>
    t.throws(() => encodeManifest(x), { instanceOf: MessageError, message: new RegExp(reason) });
  refuse({ ...m, entries: [{ ...m.entries[0], bytes: 20_000 }] }, 'inconsistent');
  refuse({ ...m, chunkBytes: 100 }, 'out-of-range');
  refuse({ ...m, entries: [m.entries[0], m.entries[0]] }, 'duplicate');
  refuse({ ...m, entries: [] }, 'missing');
  // The same chunk named at two lengths cannot be both.
  refuse({ ...m, entries: [{ name: 'w', bytes: 8193, chunks: [c(1), c(2), c(1)] }] }, 'inconsistent');
  t.like(decodeManifest(Uint8Array.of(0xff, 0xff)), { ok: false, reason: 'malformed' });
  t.like(decodeManifest(new Uint8Array(4 * 1024 * 1024 + 1)), { ok: false, reason: 'too-large' });

  const have = decodeHave(encodeHave({ manifest: c(7), bytes: 123 }));
  t.true(have.ok && have.message.manifest.equals(c(7)) && have.message.bytes === 123);
  t.like(decodeHave(Uint8Array.of(8, 5, 18, 3, 1, 2, 3)), { ok: false, reason: 'bad-cid' });
});
