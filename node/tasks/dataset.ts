// Problem sets as JSONL, one `{prompt|problem, answer|chosen, id?}` object a line (the SAT reference's
// field names), and the deterministic choice of a stage's prompts that every peer repeats alike.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { InputError } from '../agent/errors.ts';
import { rng } from '../agent/model/random.ts';

/** One task: what the team is asked and the reference answer the verifier compares against. */
export interface Problem {
  id: string;
  prompt: string;
  answer: string;
}

/**
 * Reads a JSONL problem set. Blank lines are skipped. `prompt` wins over `problem` and `answer` over
 * `chosen` when a line has both; answers and ids may be JSON numbers. `id` defaults to
 * `<basename>:<line>`. A malformed line, a repeated id or an empty file is an InputError naming the line.
 */
export function loadDataset(file: string): Problem[] {
  if (!fs.existsSync(file)) throw new InputError(`dataset ${file} does not exist`);
  const problems: Problem[] = [];
  const lineOfId = new Map<string, number>();
  fs.readFileSync(file, 'utf8')
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      const text = raw.trim();
      if (!text) return;
      const where = `${file}:${i + 1}`;
      const problem = parseLine(text, where, `${path.basename(file)}:${i + 1}`);
      const seen = lineOfId.get(problem.id);
      if (seen !== undefined) throw new InputError(`${where}: id ${JSON.stringify(problem.id)} repeats line ${seen}`);
      lineOfId.set(problem.id, i + 1);
      problems.push(problem);
    });
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

/** The problem on one line; `where` names the line in errors, `fallbackId` is its default id. */
function parseLine(text: string, where: string, fallbackId: string): Problem {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    throw new InputError(`${where}: expected a JSON object`);
  const r = row as Record<string, unknown>;
  const prompt = r.prompt ?? r.problem;
  const answer = r.answer ?? r.chosen;
  if (typeof prompt !== 'string' || !prompt.trim())
    throw new InputError(`${where}: "prompt" (or "problem") must be a non-empty string`);
  if (!isText(answer)) throw new InputError(`${where}: "answer" (or "chosen") must be a non-empty string or a number`);
  if (r.id !== undefined && !isText(r.id))
    throw new InputError(`${where}: "id" must be a non-empty string or a number`);
  return { id: r.id === undefined ? fallbackId : String(r.id), prompt, answer: String(answer) };
}

/** A non-empty string or a finite number. */
function isText(v: unknown): v is string | number {
  return (typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v));
}
