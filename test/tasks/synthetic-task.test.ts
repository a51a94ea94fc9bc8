// The chain demo task: deterministic, distinct, in range, answers that recompute from the prompt text,
// a disjoint train/test split, and transcripts whose final answer the verifier reads.
import test from 'ava';
import path from 'node:path';
import { loadDataset, writeJsonl } from '../../node/tasks/dataset.ts';
import { InputError } from '../../node/agent/errors.ts';
import { type ChainProblem, chainTurns, makeChainProblems, splitTrainTest } from '../../node/tasks/synthetic-task.ts';
import { extractAnswer, isCorrect } from '../../node/tasks/verifier.ts';
import { tempDir } from '../temp-dir.ts';

const OPTIONS = { count: 500, steps: 3, seed: 'demo', maxValue: 99 };
const problems = makeChainProblems(OPTIONS);

/** The answer recomputed from the prompt's words alone, with every intermediate value. */
function solve(prompt: string): number[] {
  const m = /^Start with (\d+)\.((?: Step \d+: (?:add|subtract|multiply by) \d+\.)+)$/.exec(prompt);
  if (!m) throw new Error(`unexpected prompt: ${prompt}`);
  let v = Number(m[1]);
  return [...m[2].matchAll(/Step \d+: (add|subtract|multiply by) (\d+)\./g)].map(([, op, n]) => {
    v = op === 'add' ? v + Number(n) : op === 'subtract' ? v - Number(n) : v * Number(n);
    return v;
  });
}

test('the same seed gives the same problems, another seed others', (t) => {
  t.deepEqual(makeChainProblems(OPTIONS), problems);
  t.notDeepEqual(makeChainProblems({ ...OPTIONS, seed: 'other' }), problems);
});

test('problems are distinct, with the asked number of steps, and ids unique', (t) => {
  t.is(problems.length, 500);
  t.is(new Set(problems.map((p) => p.prompt)).size, 500);
  t.is(new Set(problems.map((p) => p.id)).size, 500);
  for (const p of problems) t.is(p.steps.length, 3);
});

test('answers and intermediate values recompute from the prompt text and stay within 0..maxValue', (t) => {
  for (const p of problems) {
    const values = solve(p.prompt);
    t.deepEqual(p.values, values, p.prompt);
    t.is(p.answer, String(values.at(-1)));
    for (const v of [p.start, ...p.values, ...p.steps.map((s) => s.operand)])
      t.true(Number.isInteger(v) && v >= 0 && v <= 99, `${v} in ${p.prompt}`);
    for (const s of p.steps) t.true(s.op === 'multiply' ? s.operand >= 2 && s.operand <= 9 : s.operand >= 1);
  }
});

test('every operation occurs', (t) => {
  const ops = new Set(problems.flatMap((p) => p.steps.map((s) => s.op)));
  t.deepEqual([...ops].sort(), ['add', 'multiply', 'subtract']);
});

test('chain turns show each step and end with its result; the verifier reads the final answer', (t) => {
  const p = problems[0];
  const turns = chainTurns(p);
  t.is(turns.length, 3);
  turns.forEach((turn, i) => {
    t.regex(turn, new RegExp(`^Step ${i + 1}: \\d+ [-+*] \\d+ = ${p.values[i]}\\. Answer: ${p.values[i]}$`));
    t.is(extractAnswer(turn), String(p.values[i]));
  });
  for (const q of problems) t.true(isCorrect([q.prompt, ...chainTurns(q)].join('\n'), q.answer), q.prompt);
});

test('a transcript that stops early or ends on a wrong step earns nothing', (t) => {
  const p = problems.find((q) => q.values[1] !== q.values[2]) as ChainProblem;
  const turns = chainTurns(p);
  t.false(isCorrect([p.prompt, ...turns.slice(0, 2)].join('\n'), p.answer));
  t.false(
    isCorrect([p.prompt, ...turns.slice(0, 2), `Step 3: oops. Answer: ${Number(p.answer) + 1}`].join('\n'), p.answer),
  );
});

test('the split is disjoint by prompt, covers everything, and is deterministic', (t) => {
  const { train, test: held } = splitTrainTest(problems, 0.4, 'demo');
  t.is(held.length, 200);
  t.is(train.length, 300);
  const trainPrompts = new Set(train.map((p) => p.prompt));
  t.false(held.some((p) => trainPrompts.has(p.prompt)));
  t.deepEqual(splitTrainTest(problems, 0.4, 'demo'), { train, test: held });
  t.notDeepEqual(splitTrainTest(problems, 0.4, 'other').test, held);
});

test('copies of a prompt land on the same side of the split', (t) => {
  const withCopies = [...problems.slice(0, 50), ...problems.slice(0, 50).map((p) => ({ ...p, id: `${p.id}-copy` }))];
  const { train, test: held } = splitTrainTest(withCopies, 0.5, 's');
  const trainPrompts = new Set(train.map((p) => p.prompt));
  t.false(held.some((p) => trainPrompts.has(p.prompt)));
  t.is(held.length, 50);
});

test('the split takes 0 or all, and refuses a fraction outside 0..1', (t) => {
  t.is(splitTrainTest(problems, 0, 's').test.length, 0);
  t.is(splitTrainTest(problems, 1, 's').train.length, 0);
  t.throws(() => splitTrainTest(problems, 1.5, 's'), { instanceOf: InputError });
  t.throws(() => splitTrainTest(problems, Number.NaN, 's'), { instanceOf: InputError });
});

test('bad options and impossible counts are InputErrors', (t) => {
  t.throws(() => makeChainProblems({ ...OPTIONS, steps: 0 }), {
    instanceOf: InputError,
    message: /steps must be an integer >= 1/,
  });
  t.throws(() => makeChainProblems({ ...OPTIONS, count: -1 }), { instanceOf: InputError });
  t.throws(() => makeChainProblems({ ...OPTIONS, maxValue: 2.5 }), { instanceOf: InputError });
  t.throws(() => makeChainProblems({ count: 100, steps: 1, seed: 's', maxValue: 3 }), {
    instanceOf: InputError,
    message: /only \d+ distinct problems/,
  });
});

test('written problems load back as plain problems', async (t) => {
  const file = path.join(tempDir('sat-chain-'), 'test.jsonl');
  writeJsonl(file, problems.slice(0, 10));
  t.deepEqual(
    await loadDataset(file),
    problems.slice(0, 10).map(({ id, prompt, answer }) => ({ id, prompt, answer })),
  );
});
