// Problem sets, as JSONL (one JSON object a line) or Parquet, in the layouts math data sets are
// published in (dataset-layouts.ts: GSM8K, MATH / MATH-500, AIME, and the SAT reference's
// `{prompt|problem, answer|chosen, id?}`), and the deterministic choice of a stage's prompts that
// every peer repeats alike.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { InputError } from '../agent/errors.ts';
import { rng } from '../agent/model/random.ts';
import { type Reading, type Row, detectLayout, layoutNamed, readRow, unknownLayout } from './dataset-layouts.ts';
import { isParquet, readParquetRows } from './parquet.ts';

/** One task: what the team is asked and the reference answer the verifier compares against. */
export interface Problem {
  id: string;
  prompt: string;
  /** The final answer alone (GSM8K's text after `####`, MATH's last `\boxed{..}`). */
  answer: string;
  /** The worked solution, where the data set has one. */
  solution?: string;
}

/** File names read as JSONL whatever their first line; others must start with `{` (or be Parquet). */
const JSONL_NAME = /\.(jsonl|json|ndjson)$/i;

/**
 * Reads a problem set: Parquet when the file starts with `PAR1`, else JSONL (blank lines skipped, a
 * byte-order mark and CRLF line ends accepted). `type` (dataset.type) pins the layout when it names one
 * (`gsm8k`, `math`, `aime`, `prompt-answer`); null or any other label (`math500`, `demo`) detects it from
 * the first row. Answers and ids may be numbers. `id` defaults to `<basename>:<line>` (JSONL) or
 * `<basename>:<row>` (Parquet, from 1). A malformed row, one its layout cannot read, a repeated id, an
 * unreadable or empty file is an InputError naming the file and the line (or row).
 */
export async function loadDataset(file: string, type: string | null = null): Promise<Problem[]> {
  if (!fs.existsSync(file)) throw new InputError(`dataset ${file} does not exist`);
  if (!fs.statSync(file).isFile()) throw new InputError(`dataset ${file} is not a file`);
  const { unit, rows } = await readRows(file);
  const name = path.basename(file);
  const pinned = layoutNamed(type);
  let reading: Reading | undefined = pinned && { layout: pinned, origin: 'named by dataset.type' };
  const problems: Problem[] = [];
  const numberOfId = new Map<string, number>();
  for (const { n, value } of rows) {
    const where = unit === 'line' ? `${file}:${n}` : `${file}: row ${n}`;
    const row = asRow(value, where);
    if (!reading) {
      const layout = detectLayout(row);
      if (!layout) throw unknownLayout(row, where);
      reading = { layout, origin: `detected from ${unit} ${n}` };
    }
    const { id = `${name}:${n}`, ...rest } = readRow(row, where, reading);
    const seen = numberOfId.get(id);
    if (seen !== undefined) throw new InputError(`${where}: id ${JSON.stringify(id)} repeats ${unit} ${seen}`);
    numberOfId.set(id, n);
    problems.push({ id, ...rest });
  }
  if (problems.length === 0) throw new InputError(`dataset ${file} holds no problems`);
  return problems;
}

/** Writes one JSON object a line, atomically (atomic-file.ts). */
export function writeJsonl(file: string, rows: readonly object[]): void {
  writeFileAtomic(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/** A uniform [0, 1) generator seeded by a string (SHA-256 of it), the same on every peer. */
export function seededRng(seed: string): () => number {
  return rng(createHash('sha256').update(seed).digest().readUInt32LE(0));
}

/** `count` distinct problems chosen by `seed` (e.g. `${teamId}:${stage}`): a seeded partial shuffle. */
export function pickPrompts<T>(problems: readonly T[], count: number, seed: string): T[] {
  if (!Number.isInteger(count) || count < 0 || count > problems.length) {
    throw new InputError(`cannot pick ${count} distinct prompts from a dataset of ${problems.length}`);
  }
  const next = seededRng(seed);
  const pool = [...problems];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(next() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

/** A file's rows, numbered from 1 by line (JSONL) or by row (Parquet). */
interface Rows {
  unit: 'line' | 'row';
  rows: Iterable<{ n: number; value: unknown }>;
}

async function readRows(file: string): Promise<Rows> {
  if (isParquet(file)) {
    const rows = await readParquetRows(file);
    return { unit: 'row', rows: rows.map((value, i) => ({ n: i + 1, value })) };
  }
  if (/\.parquet$/i.test(file) && fs.statSync(file).size > 0)
    throw new InputError(`dataset ${file} is not a Parquet file: it does not start with "PAR1"`);
  const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  if (!JSONL_NAME.test(file) && !/^\s*(\{|$)/.test(text))
    throw new InputError(
      `dataset ${file} is neither JSONL (one JSON object a line, named .jsonl or .json) nor Parquet (starting with PAR1)`,
    );
  return { unit: 'line', rows: jsonLines(text, file) };
}

/** The JSON value on each non-blank line, parsed as the loop reaches it. */
function* jsonLines(text: string, file: string): Generator<{ n: number; value: unknown }> {
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new InputError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    yield { n: i + 1, value };
  }
}

/** A row must be an object (a JSON line may be anything). */
function asRow(value: unknown, where: string): Row {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`${where}: expected a JSON object`);
  return value as Row;
}
