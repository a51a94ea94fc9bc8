// Our reader/writer of the safetensors format: u64 LE header length, a JSON header (`__metadata__` and per
// tensor `dtype`, `shape`, `data_offsets` [begin, end) relative to the data section) padded with spaces to a
// multiple of 8, then the data section. The header is validated fully before any tensor is read.
import fs from 'node:fs';
import path from 'node:path';
import type { DType, Shape } from './graph.ts';
import type { HostTensor } from './ort.ts';
import { SafetensorsError } from './errors.ts';

export type StDType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2';

/** Where one tensor's bytes lie. */
export interface TensorInfo {
  name: string;
  dtype: StDType;
  shape: number[];
  /** Absolute path of the .safetensors file. */
  file: string;
  /** Absolute byte offset of the tensor in the file. */
  offset: number;
  /** Bytes. */
  length: number;
}

const BYTES: Record<StDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};
/** The dtypes that map onto a HostTensor. */
const HOST: Partial<Record<StDType, DType>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  U16: 'uint16',
  U8: 'uint8',
  BOOL: 'bool',
};
const ST_OF = Object.fromEntries(Object.entries(HOST).map(([st, d]) => [d, st])) as Partial<Record<DType, StDType>>;
const ARRAY: Record<string, new (b: ArrayBuffer) => HostTensor['data']> = {
  float64: Float64Array,
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint16: Uint16Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};
const MAX_HEADER = 100_000_000;

const count = (shape: Shape) => shape.reduce((a, b) => a * b, 1);
const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function openOrThrow(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new SafetensorsError(`${file}: cannot open safetensors file: ${why}`);
  }
}

function readExactly(fd: number, file: string, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    const n = fs.readSync(fd, bytes, done, bytes.length - done, position + done);
    if (n === 0)
      throw new SafetensorsError(
        `${file}: file ends at byte ${position + done}, expected ${bytes.length - done} more bytes (truncated?)`,
      );
    done += n;
  }
}

/** Reads and validates a file's header only; the tensors are read later with `readTensor`. */
export function readSafetensorsHeader(file: string): Map<string, TensorInfo> {
  file = path.resolve(file);
  const fd = openOrThrow(file);
  try {
    const size = fs.fstatSync(fd).size;
    const fail = (what: string): never => {
      throw new SafetensorsError(`${file}: ${what}`);
    };
    if (size < 8) fail(`only ${size} bytes, too short for a safetensors file (8-byte header length first)`);
    const prefix = new Uint8Array(8);
    readExactly(fd, file, prefix, 0);
    const n = Number(Buffer.from(prefix).readBigUInt64LE(0));
    if (n > MAX_HEADER) fail(`header length ${n} is absurd (over ${MAX_HEADER} bytes); not a safetensors file?`);
    if (8 + n > size)
      fail(`header length ${n} runs past the end of the file (${size} bytes); truncated or not a safetensors file`);
    const text = new Uint8Array(n);
    readExactly(fd, file, text, 8);
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(text).toString('utf8'));
    } catch (e) {
      fail(`header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
    const dataStart = 8 + n;
    const dataBytes = size - dataStart;
    const infos: TensorInfo[] = [];
    const ranges: [number, number, string][] = [];
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof entry !== 'object' || entry === null || Object.values(entry).some((v) => typeof v !== 'string'))
          fail('__metadata__ must map names to strings');
        continue;
      }
      const {
        dtype,
        shape,
        data_offsets: offsets,
      } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof dtype !== 'string' || !(dtype in BYTES))
        fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
      if (!Array.isArray(shape) || !shape.every(isIndex))
        fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex))
        fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
      const [begin, end] = offsets as [number, number];
      if (end < begin) fail(`tensor '${name}' has data_offsets out of order [${begin}, ${end}]`);
      const want = count(shape as number[]) * BYTES[dtype as StDType];
      if (end - begin !== want)
        fail(
          `tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${want} bytes but data_offsets [${begin}, ` +
            `${end}] hold ${end - begin}`,
        );
      ranges.push([begin, end, name]);
      infos.push({
        name,
        dtype: dtype as StDType,
        shape: shape as number[],
        file,
        offset: dataStart + begin,
        length: end - begin,
      });
    }
    ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < ranges.length; i++) {
      const [prev, cur] = [ranges[i - 1], ranges[i]];
      if (cur[0] < prev[1])
        fail(
          `tensors '${prev[2]}' [${prev[0]}, ${prev[1]}) and '${cur[2]}' [${cur[0]}, ${cur[1]}) overlap in the data section`,
        );
    }
    const last = ranges.reduce<[number, number, string] | undefined>((m, r) => (!m || r[1] > m[1] ? r : m), undefined);
    if (last && last[1] > dataBytes)
      fail(
        `file truncated: tensor '${last[2]}' ends at byte ${last[1]} of the data section, which holds only ` +
          `${dataBytes} bytes (file should be at least ${dataStart + last[1]} bytes, is ${size})`,
      );
    return new Map(infos.map((t) => [t.name, t]));
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads one tensor into a fresh ArrayBuffer (F16/BF16 as raw bits in a Uint16Array). */
export function readTensor(info: TensorInfo): HostTensor {
  const dtype = HOST[info.dtype];
  if (!dtype)
    throw new SafetensorsError(
      `${info.file}: tensor '${info.name}' has dtype ${info.dtype}, which sat-peer cannot load`,
    );
  const buffer = new ArrayBuffer(info.length);
  const fd = openOrThrow(info.file);
  try {
    readExactly(fd, info.file, new Uint8Array(buffer), info.offset);
  } finally {
    fs.closeSync(fd);
  }
  return { dtype, shape: [...info.shape], data: new ARRAY[dtype](buffer) };
}

let halfTable: Float32Array | undefined;
/** float32 values of all 65536 IEEE half-precision bit patterns. */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    halfTable[h] =
      sign * (exp === 0 ? frac * 2 ** -24 : exp === 31 ? (frac ? NaN : Infinity) : (1 + frac / 1024) * 2 ** (exp - 15));
  }
  return halfTable;
}

/** A float32 copy of a host tensor (float32 is passed through as is). Load time only, not a hot path. */
export function toFloat32(t: HostTensor): Float32Array {
  switch (t.dtype) {
    case 'float32':
      return t.data as Float32Array;
    case 'bfloat16': {
      const bits = new Uint32Array(t.data.length);
      for (let i = 0; i < bits.length; i++) bits[i] = (t.data[i] as number) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'float16': {
      const table = halves();
      return Float32Array.from(t.data as Uint16Array, (h) => table[h]);
    }
    default:
      return Float32Array.from(t.data as ArrayLike<number | bigint>, Number);
  }
}

/** Writes `tensors` (in name order) atomically: a temp file in the same folder, fsync, rename. */
export function writeSafetensors(
  file: string,
  tensors: Record<string, HostTensor>,
  metadata?: Record<string, string>,
): void {
  const specs = Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  writeSafetensorsFrom(file, specs, (name) => [tensors[name].data], metadata);
}

/** A tensor to write: its name, dtype and shape; its bytes come from the caller as it is written. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

/**
 * Writes tensors whose data `chunks(name)` makes as the file is written, piece by piece in order, so a checkpoint
 * larger than memory can be written (in name order, atomically as writeSafetensors).
 */
export function writeSafetensorsFrom(
  file: string,
  specs: readonly TensorSpec[],
  chunks: (name: string) => Iterable<ArrayBufferView>,
  metadata?: Record<string, string>,
): void {
  file = path.resolve(file);
  const sorted = [...specs].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const { name, dtype: type, shape } of sorted) {
    const dtype = ST_OF[type];
    if (name === '__metadata__') throw new SafetensorsError(`${file}: '__metadata__' cannot be a tensor name`);
    if (!dtype)
      throw new SafetensorsError(`${file}: tensor '${name}' has dtype ${type}, which safetensors cannot hold`);
    const bytes = count([...shape]) * BYTES[dtype];
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, ' ')]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(padded.length));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  let closed = false;
  try {
    writeAll(fd, prefix);
    writeAll(fd, padded);
    for (const { name, dtype, shape } of sorted) {
      const want = count([...shape]) * BYTES[ST_OF[dtype]!];
      let written = 0;
      for (const data of chunks(name)) {
        writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        written += data.byteLength;
      }
      if (written !== want)
        throw new SafetensorsError(
          `${file}: tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${want} bytes but its data holds ${written}`,
        );
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (!closed) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}
