import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { HostTensor } from '../../node/gpu/ort.ts';
import { readSafetensorsHeader, readTensor, toFloat32, writeSafetensors } from '../../node/gpu/safetensors.ts';
import { tempDir } from '../temp-dir.ts';

const FIXTURE = new URL('../fixtures/qwen3-tiny-a/model.safetensors', import.meta.url).pathname;
const tmpDir = () => tempDir('sat-st-');

const ALL: Record<string, HostTensor> = {
  f32: { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, -2.5, 3, 0, 1e-8, -7]) },
  f64: { dtype: 'float64', shape: [3], data: new Float64Array([Math.PI, -1e300, 0.1]) },
  i64: { dtype: 'int64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 12345678901234n]) },
  i32: { dtype: 'int32', shape: [1, 2], data: new Int32Array([-7, 2 ** 31 - 1]) },
  u8: { dtype: 'uint8', shape: [3], data: new Uint8Array([0, 128, 255]) },
  mask: { dtype: 'bool', shape: [4], data: new Uint8Array([1, 0, 0, 1]) },
  // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal)
  f16: { dtype: 'float16', shape: [4], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]) },
  // 1.0, -3.0, 1/3 rounded to bf16
  bf16: { dtype: 'bfloat16', shape: [3], data: new Uint16Array([0x3f80, 0xc040, 0x3eab]) },
  scalar: { dtype: 'float32', shape: [], data: new Float32Array([42]) },
  empty: { dtype: 'float32', shape: [0, 5], data: new Float32Array(0) },
};

test('every dtype round-trips bit for bit, header padded to 8 bytes, names in order', (t) => {
  const file = path.join(tmpDir(), 'all.safetensors');
  writeSafetensors(file, ALL, { format: 'pt', note: 'x' });
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  t.is(n % 8, 0);
  const header = JSON.parse(raw.subarray(8, 8 + n).toString());
  t.deepEqual(header.__metadata__, { format: 'pt', note: 'x' });
  const infos = readSafetensorsHeader(file);
  t.deepEqual([...infos.keys()], Object.keys(ALL).sort());
  for (const [name, want] of Object.entries(ALL)) {
    const got = readTensor(infos.get(name)!);
    t.is(got.dtype, want.dtype, name);
    t.deepEqual(got.shape, want.shape, name);
    t.is(got.data.constructor, want.data.constructor, name);
    t.deepEqual(got.data, want.data, name);
  }
  t.deepEqual(fs.readdirSync(path.dirname(file)), ['all.safetensors']); // no temp file left behind
});

test('toFloat32 converts half, bfloat16, float64 and ints; passes float32 through', (t) => {
  t.deepEqual([...toFloat32(ALL.f16)], [1, -2, 65504, 2 ** -24]);
  t.deepEqual([...toFloat32(ALL.bf16)], [1, -3, 0.333984375]);
  t.deepEqual([...toFloat32(ALL.f64)], [Math.fround(Math.PI), -Infinity, Math.fround(0.1)]);
  t.deepEqual([...toFloat32(ALL.i64)], [Math.fround(-(2 ** 62)), Math.fround(12345678901234)]);
  t.true(toFloat32(ALL.f32) === ALL.f32.data);
  const special = toFloat32({ dtype: 'float16', shape: [3], data: new Uint16Array([0x7c00, 0xfc00, 0x7e00]) });
  t.deepEqual([special[0], special[1]], [Infinity, -Infinity]);
  t.true(Number.isNaN(special[2]));
});

test('reads the reference checkpoint: F32 tensors with HF names and shapes', (t) => {
  const infos = readSafetensorsHeader(FIXTURE);
  t.is(infos.size, 2 + 1 + 2 * 11);
  const embed = infos.get('model.embed_tokens.weight')!;
  t.deepEqual([embed.dtype, embed.shape, embed.file, embed.length], ['F32', [512, 64], FIXTURE, 512 * 64 * 4]);
  t.deepEqual(infos.get('model.layers.1.self_attn.q_proj.weight')!.shape, [128, 64]);
  const norm = toFloat32(readTensor(infos.get('model.norm.weight')!));
  t.is(norm.length, 64);
  t.true(norm.every((v) => Math.abs(v - 1) < 0.6)); // RMSNorm weights are 1 + N(0, 0.1^2)
  const ends = [...infos.values()].map((i) => i.offset + i.length);
  t.is(Math.max(...ends), fs.statSync(FIXTURE).size);
});

test('rewriting the reference checkpoint gives identical bytes', (t) => {
  const infos = readSafetensorsHeader(FIXTURE);
  const file = path.join(tmpDir(), 'copy.safetensors');
  writeSafetensors(file, Object.fromEntries([...infos].map(([n, i]) => [n, readTensor(i)])), { format: 'pt' });
  t.true(fs.readFileSync(file).equals(fs.readFileSync(FIXTURE)));
});

/** A file whose header JSON is `header` (padded) followed by `dataBytes` zero bytes. */
function withHeader(header: unknown, dataBytes: number): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(tmpDir(), 'bad.safetensors');
  fs.writeFileSync(file, Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]));
  return file;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

const corrupt: [string, () => string, RegExp][] = [
  ['missing file', () => path.join(tmpDir(), 'nope.safetensors'), /no such file/],
  [
    'shorter than 8 bytes',
    () => {
      const f = path.join(tmpDir(), 'short.safetensors');
      fs.writeFileSync(f, Buffer.alloc(5));
      return f;
    },
    /only 5 bytes/,
  ],
  [
    'header length past the end',
    () => {
      const f = withHeader({}, 0);
      fs.truncateSync(f, 9);
      return f;
    },
    /header length 2 runs past the end of the file \(9 bytes\)/,
  ],
  [
    'absurd header length',
    () => {
      const f = path.join(tmpDir(), 'huge.safetensors');
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(2n ** 40n);
      fs.writeFileSync(f, b);
      return f;
    },
    /header length 1099511627776 is absurd/,
  ],
  ['header not JSON', () => withHeader('{"a": [1, 2', 0), /header is not valid JSON/],
  ['header not an object', () => withHeader('[1, 2]', 0), /header is not a JSON object/],
  [
    'unknown dtype',
    () => withHeader({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, 4),
    /tensor 'w' has unknown dtype "F33"/,
  ],
  [
    'invalid shape',
    () => withHeader({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4),
    /tensor 'w' has an invalid shape/,
  ],
  [
    'shape / byte length mismatch',
    () => withHeader({ w: f32([2, 3], 0, 20) }, 24),
    /tensor 'w' \(F32 \[2,3\]\) needs 24 bytes but data_offsets \[0, 20\] hold 20/,
  ],
  [
    'offsets out of order',
    () => withHeader({ w: f32([1], 8, 4) }, 8),
    /tensor 'w' has data_offsets out of order \[8, 4\]/,
  ],
  [
    'overlapping tensors',
    () => withHeader({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12),
    /tensors 'a' \[0, 8\) and 'b' \[4, 12\) overlap/,
  ],
  [
    'tensor outside the data section',
    () => withHeader({ a: f32([2], 0, 8), b: f32([2], 100, 108) }, 16),
    /file truncated: tensor 'b' ends at byte 108 of the data section, which holds only 16 bytes/,
  ],
  [
    'metadata not strings',
    () => withHeader({ __metadata__: { step: 3 } }, 0),
    /__metadata__ must map names to strings/,
  ],
  [
    'truncated data section',
    () => {
      const dir = tmpDir();
      const f = path.join(dir, 'model.safetensors');
      fs.copyFileSync(FIXTURE, f);
      fs.truncateSync(f, fs.statSync(f).size - 100);
      return f;
    },
    /file truncated: tensor 'model\.norm\.weight' ends at byte \d+ of the data section, which holds only \d+ bytes/,
  ],
];

for (const [what, make, message] of corrupt) {
  test(`corrupt file: ${what} -> SafetensorsError naming the file`, (t) => {
    const file = make();
    const err = t.throws(() => readSafetensorsHeader(file), { name: 'SafetensorsError', message })!;
    t.true(err.message.startsWith(`${file}: `), err.message);
    t.false(err.message.includes('\n'));
  });
}

test('readTensor notices a file truncated after its header was read', (t) => {
  const file = path.join(tmpDir(), 'x.safetensors');
  writeSafetensors(file, { a: ALL.f32 });
  const info = readSafetensorsHeader(file).get('a')!;
  fs.truncateSync(file, info.offset + 4);
  t.throws(() => readTensor(info), { name: 'SafetensorsError', message: /truncated/ });
});

test('writeSafetensors refuses data that does not match the shape and leaves no file', (t) => {
  const dir = tmpDir();
  const file = path.join(dir, 'w.safetensors');
  t.throws(() => writeSafetensors(file, { w: { dtype: 'float32', shape: [2, 2], data: new Float32Array(3) } }), {
    name: 'SafetensorsError',
    message: /tensor 'w' \(float32 \[2, 2\]\) needs 16 bytes but its data holds 12/,
  });
  t.deepEqual(fs.readdirSync(dir), []);
});

test('writeSafetensors replaces an existing file atomically', (t) => {
  const file = path.join(tmpDir(), 'w.safetensors');
  writeSafetensors(file, { a: ALL.f32 });
  writeSafetensors(file, { b: ALL.i32 });
  t.deepEqual([...readSafetensorsHeader(file).keys()], ['b']);
  t.deepEqual(fs.readdirSync(path.dirname(file)), ['w.safetensors']);
});
