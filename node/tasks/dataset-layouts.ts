// The published layouts of math problem sets: which fields of a row hold the prompt, the reference
// answer and the id, how the final answer is cut out of a worked solution (GSM8K's `#### 42`, MATH's
// last `\boxed{..}`), and how a row's layout is detected from its fields.
//
//   gsm8k          question, answer (a worked solution ending in `#### <final answer>`)
//   math           problem, solution (the answer is its last `\boxed{..}` / `\fbox{..}`) and/or answer
//                  (which wins); `unique_id` may serve as the id (MATH, MATH-500)
//   aime           problem, answer (often an integer)
//   prompt-answer  prompt|problem, answer|chosen: the SAT reference's own files (`prompt` wins over
//                  `problem`, `answer` over `chosen`)
//
// Every layout takes an optional `id` (a string or a number). A field is looked up by its name, else by
// a name differing only in case (`Problem`, `Answer`, `ID`, as some AIME sets publish them); a null
// field counts as absent.
import { InputError } from '../agent/errors.ts';
import { lastBoxed } from './verifier.ts';

export type LayoutName = 'gsm8k' | 'math' | 'aime' | 'prompt-answer';
export const LAYOUT_NAMES: readonly LayoutName[] = ['gsm8k', 'math', 'aime', 'prompt-answer'];

/** One row of a problem set as read from its file: a JSON object, or a Parquet row keyed by column. */
export type Row = Record<string, unknown>;

/** What one row holds; the id is absent when the row gives none. */
export interface RowProblem {
  id?: string;
  prompt: string;
  /** The reference answer alone: GSM8K's text after `####`, MATH's last box. */
  answer: string;
  /** The worked solution, where the row has one. */
  solution?: string;
}

/** How a file's rows are read: their layout, and why that one (for messages). */
export interface Reading {
  layout: Layout;
  /** `named by dataset.type`, `detected from line 1`, ... */
  origin: string;
}

export interface Layout {
  name: LayoutName;
  /** Its fields, for messages: `question, answer`. */
  fields: string;
  read(row: RowFields): RowProblem;
}

/** The layout that `type` (dataset.type) names exactly, case aside; undefined for null or any other label. */
export function layoutNamed(type: string | null | undefined): Layout | undefined {
  const name = type?.trim().toLowerCase();
  return LAYOUTS.find((l) => l.name === name);
}

/** The layout a row's fields point to, or undefined when it has none of the fields any layout reads. */
export function detectLayout(row: Row): Layout | undefined {
  const has = (name: string) => lookup(row, name) !== undefined;
  if (has('solution') && !has('prompt') && !has('chosen')) return MATH;
  if (has('question') && !has('prompt') && !has('problem')) return GSM8K;
  if (['prompt', 'problem', 'answer', 'chosen'].some(has)) return PROMPT_ANSWER;
  return undefined;
}

/** The InputError for a row that no layout reads. */
export function unknownLayout(row: Row, where: string): InputError {
  const expected = LAYOUTS.map((l) => `${l.name} (${l.fields})`);
  return new InputError(
    `${where}: no known dataset layout has fields ${fieldList(row)}; ` +
      `expected ${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}`,
  );
}

/** A row's fields as messages list them: `{question, answer}`. */
export function fieldList(row: Row): string {
  const keys = Object.keys(row);
  const shown = keys.length > 12 ? [...keys.slice(0, 12), `... ${keys.length} in all`] : keys;
  return `{${shown.join(', ')}}`;
}

/** Reads `row` as `reading` says; a field it lacks or holds badly is an InputError naming `where`. */
export function readRow(row: Row, where: string, reading: Reading): RowProblem {
  return reading.layout.read(new RowFields(row, where, reading));
}

/** GSM8K's final answer: what follows the last `####`, trimmed. */
function finalAnswer(fields: RowFields, solution: string): string {
  const mark = solution.lastIndexOf('####');
  if (mark < 0) {
    if (solution.includes('\n')) throw fields.error(`"answer" is a worked solution with no final "#### <answer>" line`);
    return solution.trim();
  }
  const answer = solution.slice(mark + 4).trim();
  if (!answer) throw fields.error(`"answer" has nothing after its last "####"`);
  return answer;
}

/** A row's fields as one layout reads them, with the messages for a field that is missing or bad. */
class RowFields {
  constructor(
    readonly row: Row,
    private readonly where: string,
    private readonly reading: Reading,
  ) {}

  /** The value of the first of `names` the row has. */
  get(...names: string[]): unknown {
    for (const name of names) {
      const v = lookup(this.row, name);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** The first of `names` as a non-empty string. */
  text(...names: string[]): string {
    const v = this.get(...names);
    if (typeof v !== 'string' || !v.trim()) throw this.refuse(names, 'a non-empty string');
    return v;
  }

  /** The first of `names` as a non-empty string or a number, as a string. */
  value(...names: string[]): string {
    const v = this.get(...names);
    if (!isText(v)) throw this.refuse(names, 'a non-empty string or a number');
    return String(v);
  }

  /** The id, where the row has one under any of `names`. */
  id(...names: string[]): string | undefined {
    const name = names.find((n) => lookup(this.row, n) !== undefined);
    return name === undefined ? undefined : this.value(name);
  }

  error(message: string): InputError {
    return new InputError(`${this.where}: ${message}`);
  }

  /** `"prompt" (or "problem") must be ...`; where the row has none of them, what it has and how it is read. */
  refuse(names: string[], expected: string): InputError {
    const [first, ...others] = names.map((n) => `"${n}"`);
    const field = others.length ? `${first} (or ${others.join(' or ')})` : first;
    const { layout, origin } = this.reading;
    const context =
      this.get(...names) === undefined
        ? `; the row has fields ${fieldList(this.row)}, read as the ${layout.name} layout (${layout.fields}) ${origin}`
        : '';
    return this.error(`${field} must be ${expected}${context}`);
  }
}

/** The row's non-null value under `name`, else under a key differing only in case. */
function lookup(row: Row, name: string): unknown {
  const exact = row[name];
  if (exact !== undefined && exact !== null) return exact;
  const key = Object.keys(row).find((k) => k !== name && k.toLowerCase() === name);
  const v = key === undefined ? undefined : row[key];
  return v === null ? undefined : v;
}

/** A non-empty string or a finite number (Parquet's 64-bit integers read as bigint). */
function isText(v: unknown): v is string | number | bigint {
  return (
    (typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint'
  );
}

const withId = (p: RowProblem, id: string | undefined): RowProblem => (id === undefined ? p : { id, ...p });
const withSolution = (p: RowProblem, solution: string | undefined): RowProblem =>
  solution === undefined ? p : { ...p, solution };

const GSM8K: Layout = {
  name: 'gsm8k',
  fields: 'question, answer',
  read(f) {
    const prompt = f.text('question');
    const solution = f.value('answer');
    const answer = finalAnswer(f, solution);
    return withSolution(withId({ prompt, answer }, f.id('id')), solution.includes('####') ? solution : undefined);
  },
};

const MATH: Layout = {
  name: 'math',
  fields: 'problem, solution|answer',
  read(f) {
    const prompt = f.text('problem');
    const solution = f.get('solution') === undefined ? undefined : f.text('solution');
    const id = f.id('id', 'unique_id');
    if (isText(f.get('answer'))) return withSolution(withId({ prompt, answer: f.value('answer') }, id), solution);
    if (solution === undefined) throw f.refuse(['answer', 'solution'], 'a non-empty string or a number');
    const answer = lastBoxed(solution);
    if (answer === undefined) throw f.error(`"solution" holds no \\boxed{..} answer, and the row has no "answer"`);
    return withSolution(withId({ prompt, answer }, id), solution);
  },
};

const AIME: Layout = {
  name: 'aime',
  fields: 'problem, answer',
  read(f) {
    const prompt = f.text('problem');
    const answer = f.value('answer');
    const solution = typeof f.get('solution') === 'string' ? (f.get('solution') as string) : undefined;
    return withSolution(withId({ prompt, answer }, f.id('id')), solution);
  },
};

const PROMPT_ANSWER: Layout = {
  name: 'prompt-answer',
  fields: 'prompt|problem, answer|chosen',
  read(f) {
    const prompt = f.text('prompt', 'problem');
    const answer = f.value('answer', 'chosen');
    return withId({ prompt, answer }, f.id('id'));
  },
};

const LAYOUTS: readonly Layout[] = [GSM8K, MATH, AIME, PROMPT_ANSWER];
