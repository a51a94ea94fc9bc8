// Published data set layouts: GSM8K's `#### answer`, MATH's last box, MATH-500's `answer`, AIME's
// numbers, the layout pinned by dataset.type or detected from the first row, and the messages for rows
// that fit neither.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../node/tasks/dataset.ts';
import { type LayoutName, detectLayout, layoutNamed } from '../../node/tasks/dataset-layouts.ts';
import { InputError } from '../../node/agent/errors.ts';
import { tempDir } from '../temp-dir.ts';

const FIXTURES = new URL('../fixtures/datasets/', import.meta.url).pathname;
const fixture = (name: string) => path.join(FIXTURES, name);

/** A temp JSONL file of these rows. */
function jsonl(...rows: object[]): string {
  const file = path.join(tempDir('sat-layouts-'), 'set.jsonl');
  fs.writeFileSync(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return file;
}

const answers = async (file: string, type: string | null = null) =>
  (await loadDataset(file, type)).map((p) => [p.id, p.answer]);

test('GSM8K: the question is the prompt, the text after the last #### the answer, the solution kept whole', async (t) => {
  const problems = await loadDataset(fixture('gsm8k.jsonl'));
  t.deepEqual(
    problems.map((p) => [p.id, p.answer]),
    [
      ['gsm8k.jsonl:1', '72'],
      ['gsm8k.jsonl:2', '10'],
      ['gsm8k.jsonl:3', '1,234'],
    ],
  );
  t.is(
    problems[1].prompt,
    'Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?',
  );
  t.true(problems[0].solution?.startsWith('Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n'));
  t.true(problems[0].solution?.endsWith('\n#### 72'));
});

test('MATH: the answer is the last box of the solution, nested and escaped braces included', async (t) => {
  const problems = await loadDataset(fixture('math.jsonl'));
  t.deepEqual(
    problems.map((p) => [p.id, p.answer]),
    [
      ['math.jsonl:1', '11'],
      ['math.jsonl:2', '\\frac{1}{2}'],
      ['math.jsonl:3', '\\{-1, 2\\}'],
    ],
  );
  t.is(problems[1].prompt, 'Evaluate $\\sqrt{\\frac{9}{36}}$.');
  t.regex(problems[0].solution!, /\\boxed\{11\}\.\\\]$/);
  t.false('level' in problems[0] || 'type' in problems[0], 'extra fields are dropped');
});

test('MATH-500: answer wins over the solution box, and unique_id is the id', async (t) => {
  const problems = await loadDataset(fixture('math500.jsonl'));
  t.deepEqual(
    problems.map((p) => [p.id, p.answer]),
    [
      ['test/precalculus/807.json', '\\left( 3, \\frac{\\pi}{2} \\right)'],
      ['test/algebra/2001.json', '5'],
    ],
  );
  t.regex(problems[1].solution!, /\\boxed\{x = 5\}/, 'the box held more than the answer');
});

test('AIME: integer answers and ids as given', async (t) => {
  const problems = await loadDataset(fixture('aime.jsonl'));
  t.deepEqual(
    problems.map((p) => [p.id, p.answer]),
    [
      ['2024-I-1', '204'],
      ['2024-I-2', '25'],
      ['2024-II-4', '33'],
    ],
  );
  t.true(problems[1].prompt.startsWith('There exist real numbers $x$ and $y$, both greater than 1'));
  t.false('solution' in problems[0]);
});

test('a layout named by dataset.type reads its own files as detection does; other labels detect', async (t) => {
  for (const [file, type] of [
    ['gsm8k.jsonl', 'gsm8k'],
    ['math.jsonl', 'math'],
    ['math500.jsonl', 'math'],
    ['aime.jsonl', 'aime'],
    ['aime.jsonl', 'math'],
    ['mixed.jsonl', 'prompt-answer'],
  ]) {
    const detected = await loadDataset(fixture(file), null);
    t.deepEqual(await loadDataset(fixture(file), type), detected, `${file} as ${type}`);
    t.deepEqual(await loadDataset(fixture(file), type.toUpperCase()), detected, 'case aside');
  }
  for (const label of ['math500', 'demo', 'aime24'])
    t.deepEqual(await answers(fixture('math500.jsonl'), label), await answers(fixture('math500.jsonl')), label);
  t.deepEqual((await answers(fixture('mixed.jsonl'), 'demo')).at(-1), ['7', '204']);
});

test('a layout named by dataset.type refuses rows of another, naming the fields found', async (t) => {
  const cases: [string, string, string][] = [
    ['gsm8k.jsonl', 'math', ':1: "problem" must be a non-empty string; the row has fields {question, answer}'],
    [
      'math.jsonl',
      'gsm8k',
      ':1: "question" must be a non-empty string; the row has fields {problem, level, type, solution}',
    ],
    [
      'math.jsonl',
      'aime',
      ':1: "answer" must be a non-empty string or a number; the row has fields {problem, level, type, solution}',
    ],
    [
      'gsm8k.jsonl',
      'prompt-answer',
      ':1: "prompt" (or "problem") must be a non-empty string; the row has fields {question, answer}',
    ],
  ];
  for (const [file, type, message] of cases) {
    const e = await t.throwsAsync(() => loadDataset(fixture(file), type), { instanceOf: InputError });
    t.true(e.message.startsWith(`${fixture(file)}${message}`), e.message);
    t.true(e.message.endsWith(`the ${type} layout (${layoutNamed(type)!.fields}) named by dataset.type`), e.message);
  }
});

test('a row of no known layout is refused naming its fields and the layouts there are', async (t) => {
  const file = jsonl({ foo: 'What is 1 + 1?', bar: 2 });
  await t.throwsAsync(() => loadDataset(file), {
    instanceOf: InputError,
    message:
      `${file}:1: no known dataset layout has fields {foo, bar}; expected gsm8k (question, answer), ` +
      'math (problem, solution|answer), aime (problem, answer) or prompt-answer (prompt|problem, answer|chosen)',
  });
  await t.throwsAsync(() => loadDataset(jsonl({ question: null, answer: null, x: 1 })), {
    message: /:1: no known dataset layout has fields \{question, answer, x\}/,
  });
});

test('rows after the first must fit the layout detected from it', async (t) => {
  const file = jsonl(
    { question: 'What is 1 + 1?', answer: '1 + 1 = 2\n#### 2' },
    { problem: 'What is 2 + 2?', solution: '$\\boxed{4}$' },
  );
  const e = await t.throwsAsync(() => loadDataset(file), { instanceOf: InputError });
  t.is(
    e.message,
    `${file}:2: "question" must be a non-empty string; the row has fields {problem, solution}, ` +
      'read as the gsm8k layout (question, answer) detected from line 1',
  );
});

test('GSM8K answers: the last #### counts; none on a one-line answer takes it whole; else refused', async (t) => {
  const q = 'How many?';
  t.deepEqual(
    await answers(
      jsonl(
        { question: q, answer: 'first #### 3 was wrong\nso\n####  4 ' },
        { question: q, answer: 12 },
        { question: q, answer: '7' },
      ),
    ),
    [
      ['set.jsonl:1', '4'],
      ['set.jsonl:2', '12'],
      ['set.jsonl:3', '7'],
    ],
  );
  await t.throwsAsync(() => loadDataset(jsonl({ question: q, answer: 'It is 2 + 2 = 4.\nSo four.' })), {
    instanceOf: InputError,
    message: /:1: "answer" is a worked solution with no final "#### <answer>" line/,
  });
  await t.throwsAsync(() => loadDataset(jsonl({ question: q, answer: '2 + 2 = 4\n####  ' })), {
    instanceOf: InputError,
    message: /:1: "answer" has nothing after its last "####"/,
  });
  await t.throwsAsync(() => loadDataset(jsonl({ question: '  ', answer: '#### 4' })), {
    message: /:1: "question" must be a non-empty string$/,
  });
});

test('MATH rows need an answer or a boxed one in the solution', async (t) => {
  await t.throwsAsync(() => loadDataset(jsonl({ problem: 'p', solution: 'It is 4.' })), {
    instanceOf: InputError,
    message: /:1: "solution" holds no \\boxed\{\.\.\} answer, and the row has no "answer"/,
  });
  await t.throwsAsync(() => loadDataset(jsonl({ problem: 'p', solution: '$\\boxed{4}$' }, { problem: 'q' })), {
    instanceOf: InputError,
    message: /:2: "answer" \(or "solution"\) must be a non-empty string or a number; the row has fields \{problem\}/,
  });
  t.deepEqual(await answers(jsonl({ problem: 'p', solution: 'so $\\boxed{4}$', answer: null })), [
    ['set.jsonl:1', '4'],
  ]);
});

test('fields are found whatever their case, as some AIME sets publish them; a null id is no id', async (t) => {
  const file = jsonl(
    { ID: '2024-II-4', Problem: 'Find $m+n$.', Solution: 'So $m+n=\\boxed{33}$.', Answer: 33 },
    { ID: null, Problem: 'Find $xy$.', Solution: 'Hence $xy = \\boxed{25}$.', Answer: 25 },
  );
  const problems = await loadDataset(file);
  t.deepEqual(
    problems.map((p) => [p.id, p.prompt, p.answer]),
    [
      ['2024-II-4', 'Find $m+n$.', '33'],
      ['set.jsonl:2', 'Find $xy$.', '25'],
    ],
  );
  t.deepEqual(await loadDataset(file, 'aime'), problems);
});

test('repeated ids are refused in every layout, unique_id and ID included', async (t) => {
  const cases: [object, object][] = [
    [
      { unique_id: 'test/a.json', problem: 'p', solution: '\\boxed{1}' },
      { unique_id: 'test/a.json', problem: 'q', solution: '\\boxed{2}' },
    ],
    [
      { ID: 5, problem: 'p', answer: 1 },
      { ID: '5', problem: 'q', answer: 2 },
    ],
    [
      { id: 'g', question: 'p', answer: '#### 1' },
      { id: 'g', question: 'q', answer: '#### 2' },
    ],
  ];
  for (const rows of cases)
    await t.throwsAsync(() => loadDataset(jsonl(...rows)), {
      instanceOf: InputError,
      message: /:2: id "\S+" repeats line 1$/,
    });
});

test('layoutNamed knows the four layouts; detectLayout reads the first row', (t) => {
  t.deepEqual(
    ['gsm8k', ' Math ', 'aime', 'prompt-answer', 'math500', 'demo', null].map((n) => layoutNamed(n)?.name),
    ['gsm8k', 'math', 'aime', 'prompt-answer', undefined, undefined, undefined],
  );
  const rows: [object, LayoutName | undefined][] = [
    [{ question: 'q', answer: 'a' }, 'gsm8k'],
    [{ problem: 'p', solution: 's', answer: 'a', level: 'Level 1' }, 'math'],
    [{ problem: 'p', answer: 1, id: 3 }, 'prompt-answer'],
    [{ prompt: 'p', chosen: 'a', rejected: '' }, 'prompt-answer'],
    [{ prompt: 'p', question: 'q', answer: 'a' }, 'prompt-answer'],
    [{ Problem: 'p', Solution: 's' }, 'math'],
    [{ answer: '1' }, 'prompt-answer'],
    [{ text: 'p', label: 1 }, undefined],
  ];
  for (const [row, want] of rows) t.is(detectLayout(row as Record<string, unknown>)?.name, want, JSON.stringify(row));
});
