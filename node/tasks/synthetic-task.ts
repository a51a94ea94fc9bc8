// The embedded demo's task: chained arithmetic where turn i of the `chain` workflow does step i, so the
// team only earns the (final-answer) reward when every agent does its own step right.
//
//   prompt:  Start with 17. Step 1: add 25. Step 2: multiply by 3.
//   turn 1:  Step 1: 17 + 25 = 42. Answer: 42
//   turn 2:  Step 2: 42 * 3 = 126. Answer: 126
import { type Problem, seededRng } from './dataset.ts';
import { InputError } from '../agent/errors.ts';

/** One arithmetic step; multipliers are 2..9, add/subtract operands at least 1. */
export interface ChainStep {
  op: 'add' | 'subtract' | 'multiply';
  operand: number;
}

/** A chain problem with what SFT needs to teach agent i its step: the start and every intermediate value. */
export interface ChainProblem extends Problem {
  start: number;
  steps: ChainStep[];
  /** `values[i]` is the result after step i + 1; the last one is the answer. */
  values: number[];
}

export interface ChainOptions {
  /** How many distinct problems. */
  count: number;
  /** Steps per problem (one per turn of the chain). */
  steps: number;
  /** Same seed, same problems. */
  seed: string;
  /** Every start, operand and intermediate value stays within 0..maxValue. */
  maxValue: number;
}

const WORDS = { add: 'add', subtract: 'subtract', multiply: 'multiply by' } as const;
const SYMBOLS = { add: '+', subtract: '-', multiply: '*' } as const;
const ATTEMPTS_PER_PROBLEM = 50;

/** `count` distinct chain problems (no prompt repeats), deterministic in `seed`. */
export function makeChainProblems({ count, steps, seed, maxValue }: ChainOptions): ChainProblem[] {
  for (const [name, v, min] of [
    ['count', count, 0],
    ['steps', steps, 1],
    ['maxValue', maxValue, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min)
      throw new InputError(`chain task: ${name} must be an integer >= ${min}, got ${v}`);
  }
  const next = seededRng(`chain:${seed}`);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const problems = new Map<string, ChainProblem>();
  for (let attempt = 0; problems.size < count && attempt < count * ATTEMPTS_PER_PROBLEM; attempt++) {
    const start = int(1, maxValue);
    const chain: ChainStep[] = [];
    const values: number[] = [];
    for (let s = 0, v = start; s < steps; s++) {
      const step = randomStep(v, maxValue, int);
      v = apply(v, step);
      chain.push(step);
      values.push(v);
    }
    const prompt = [`Start with ${start}.`, ...chain.map((c, i) => `Step ${i + 1}: ${WORDS[c.op]} ${c.operand}.`)].join(
      ' ',
    );
    if (!problems.has(prompt)) {
      problems.set(prompt, {
        id: `chain-${problems.size}`,
        prompt,
        answer: String(values.at(-1)),
        start,
        steps: chain,
        values,
      });
    }
  }
  if (problems.size < count)
    throw new InputError(
      `chain task: only ${problems.size} distinct problems of ${steps} steps within 0..${maxValue}, asked for ${count}`,
    );
  return [...problems.values()];
}

/** The text of each turn of a correct chain transcript: `Step i: a op b = c. Answer: c`. */
export function chainTurns(p: ChainProblem): string[] {
  return p.steps.map((s, i) => {
    const before = i === 0 ? p.start : p.values[i - 1];
    return `Step ${i + 1}: ${before} ${SYMBOLS[s.op]} ${s.operand} = ${p.values[i]}. Answer: ${p.values[i]}`;
  });
}

/**
 * Splits by distinct prompt (copies of a prompt stay on one side), deterministic in `seed`: the test
 * side gets round(testFraction * distinct prompts) of them; both sides keep the input order.
 */
export function splitTrainTest<T extends Problem>(
  problems: readonly T[],
  testFraction: number,
  seed: string,
): { train: T[]; test: T[] } {
  if (!(testFraction >= 0 && testFraction <= 1))
    throw new InputError(`testFraction must be within 0..1, got ${testFraction}`);
  const prompts = [...new Set(problems.map((p) => p.prompt))];
  const next = seededRng(`split:${seed}`);
  for (let i = prompts.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [prompts[i], prompts[j]] = [prompts[j], prompts[i]];
  }
  const test = new Set(prompts.slice(0, Math.round(testFraction * prompts.length)));
  return { train: problems.filter((p) => !test.has(p.prompt)), test: problems.filter((p) => test.has(p.prompt)) };
}

/** A random step that keeps `value` within 0..maxValue. */
function randomStep(value: number, maxValue: number, int: (lo: number, hi: number) => number): ChainStep {
  const ops: ChainStep['op'][] = [];
  if (value < maxValue) ops.push('add');
  if (value > 0) ops.push('subtract');
  if (value > 0 && value * 2 <= maxValue) ops.push('multiply');
  const op = ops[int(0, ops.length - 1)];
  if (op === 'add') return { op, operand: int(1, maxValue - value) };
  if (op === 'subtract') return { op, operand: int(1, value) };
  return { op, operand: int(2, Math.min(9, Math.floor(maxValue / value))) };
}

/** `value` after one step. */
function apply(value: number, { op, operand }: ChainStep): number {
  return op === 'add' ? value + operand : op === 'subtract' ? value - operand : value * operand;
}
