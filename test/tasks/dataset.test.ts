// JSONL problem sets: field names and precedence, default ids, blank lines, malformed lines named by
// file and line, atomic writes that round-trip, and a prompt choice every peer repeats alike.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset, pickPrompts, type Problem, writeJsonl } from '../../node/tasks/dataset.ts';
import { InputError } from '../../node/agent/errors.ts';
import { tempDir } from '../temp-dir.ts';

const FIXTURES = new URL('../fixtures/datasets/', import.meta.url).pathname;
const tmpDir = () => tempDir('sat-dataset-');

/** A temp JSONL file holding `text`. */
function jsonl(text: string): string {
  const file = path.join(tmpDir(), 'set.jsonl');
  fs.writeFileSync(file, text);
  return file;
}

test('both field spellings load, blank lines are skipped, and ids default to <basename>:<line>', async (t) => {
  t.deepEqual(await loadDataset(path.join(FIXTURES, 'mixed.jsonl')), [
    { id: 'mixed.jsonl:1', prompt: 'What is 2 + 3?', answer: '5' },
    { id: 'mixed.jsonl:2', prompt: 'Compute 4 * 5.', answer: '20' },
    { id: 'half', prompt: 'Half of 1?', answer: '\\frac{1}{2}' },
    { id: 'mixed.jsonl:6', prompt: 'Which field wins?', answer: '1' },
    { id: '7', prompt: 'An AIME-style problem.', answer: '204' },
  ]);
});

test('CRLF line ends and a byte-order mark are accepted', async (t) => {
  const file = jsonl('\uFEFF{"prompt": "a", "answer": "1"}\r\n\r\n{"prompt": "b", "answer": "2"}\r\n');
  t.deepEqual(
    (await loadDataset(file)).map((p) => [p.id, p.prompt, p.answer]),
    [
      ['set.jsonl:1', 'a', '1'],
      ['set.jsonl:3', 'b', '2'],
    ],
  );
});

test('a truncated line is an InputError naming the file and line', async (t) => {
  const file = path.join(FIXTURES, 'truncated.jsonl');
  const e = await t.throwsAsync(() => loadDataset(file), { instanceOf: InputError });
  t.true(e.message.startsWith(`${file}:2: not valid JSON`), e.message);
});

const malformed: [string, string, RegExp][] = [
  ['an array', '[1, 2]', /:1: expected a JSON object/],
  ['no prompt', '{"answer": "1"}', /:1: "prompt" \(or "problem"\) must be a non-empty string/],
  ['an empty prompt', '{"prompt": "  ", "answer": "1"}', /:1: "prompt"/],
  ['a numeric prompt', '{"prompt": 3, "answer": "1"}', /:1: "prompt"/],
  ['no answer', '{"prompt": "p"}', /:1: "answer" \(or "chosen"\) must be a non-empty string or a number/],
  ['a null answer', '{"prompt": "p", "answer": null}', /:1: "answer"/],
  ['an object answer', '{"prompt": "p", "answer": {"v": 1}}', /:1: "answer"/],
  ['a boolean id', '{"id": true, "prompt": "p", "answer": "1"}', /:1: "id" must be/],
  [
    'a repeated id',
    '{"id": "a", "prompt": "p", "answer": "1"}\n\n{"id": "a", "prompt": "q", "answer": "2"}',
    /:3: id "a" repeats line 1/,
  ],
];

for (const [what, text, message] of malformed) {
  test(`a line with ${what} is an InputError`, async (t) => {
    const file = jsonl(text);
    const e = await t.throwsAsync(() => loadDataset(file), { instanceOf: InputError });
    t.true(e.message.startsWith(file), e.message);
    t.regex(e.message, message);
  });
}

test('a missing or empty dataset is an InputError', async (t) => {
  await t.throwsAsync(() => loadDataset(path.join(tmpDir(), 'absent.jsonl')), {
    instanceOf: InputError,
    message: /does not exist/,
  });
  await t.throwsAsync(() => loadDataset(jsonl('\n  \n')), { instanceOf: InputError, message: /holds no problems/ });
});

test('writeJsonl writes atomically into a new folder and round-trips through loadDataset', async (t) => {
  const dir = tmpDir();
  const file = path.join(dir, 'nested', 'out.jsonl');
  const rows: Problem[] = [
    { id: 'x', prompt: 'line one\nline two "quoted"', answer: '\\frac{1}{2}' },
    { id: 'y', prompt: 'p', answer: '3' },
  ];
  writeJsonl(file, rows);
  t.deepEqual(await loadDataset(file), rows);
  t.deepEqual(fs.readdirSync(path.dirname(file)), ['out.jsonl'], 'no temp file is left behind');
  writeJsonl(file, rows.slice(1));
  t.deepEqual(await loadDataset(file), rows.slice(1), 'an existing file is replaced whole');
});

const problems: Problem[] = Array.from({ length: 50 }, (_, i) => ({
  id: `p${i}`,
  prompt: `prompt ${i}`,
  answer: String(i),
}));

test('pickPrompts is deterministic in its seed and never repeats within a pick', (t) => {
  const a = pickPrompts(problems, 20, 'team-a:3');
  t.deepEqual(a, pickPrompts(problems, 20, 'team-a:3'));
  t.is(new Set(a.map((p) => p.id)).size, 20);
  t.notDeepEqual(a, pickPrompts(problems, 20, 'team-a:4'));
  t.notDeepEqual(a, pickPrompts(problems, 20, 'team-b:3'));
  t.deepEqual(
    pickPrompts(problems, 20, 'team-a:3').slice(0, 5),
    pickPrompts(problems, 5, 'team-a:3'),
    'a smaller pick is a prefix of a larger one',
  );
});

test('pickPrompts can take the whole set or nothing, and no more than the set', (t) => {
  t.deepEqual(
    pickPrompts(problems, 50, 's')
      .map((p) => p.id)
      .sort(),
    problems.map((p) => p.id).sort(),
  );
  t.deepEqual(pickPrompts(problems, 0, 's'), []);
  t.throws(() => pickPrompts(problems, 51, 's'), {
    instanceOf: InputError,
    message: /cannot pick 51 distinct prompts from a dataset of 50/,
  });
  t.throws(() => pickPrompts(problems, 1.5, 's'), { instanceOf: InputError });
});

test('pickPrompts spreads its picks over the set', (t) => {
  const counts = new Array(problems.length).fill(0);
  for (let stage = 0; stage < 400; stage++)
    for (const p of pickPrompts(problems, 5, `team:${stage}`)) counts[Number(p.answer)]++;
  t.true(Math.min(...counts) > 10 && Math.max(...counts) < 70, `each prompt is picked about 40 times: ${counts}`);
});
