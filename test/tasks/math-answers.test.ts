// What the verifier accepts, as a table of real-style answers: a dataset reference, a model response, and
// whether the response earns the reward. GSM8K (integers with commas, dollars, units, `#### n` solutions),
// MATH (fractions, radicals, pi, tuples, intervals, degrees, expressions, `\text{}` answers, multiple choice,
// `\boxed{}` solutions) and AIME (integers 0-999, leading zeros). Then hostile answers, which must neither
// throw nor take long, and the same verdicts whatever the order of the comparisons.
import test from 'ava';
import { answerMatches, isCorrect, reward } from '../../node/tasks/verifier.ts';

const GSM8K_NATALIA = [
  'Natalia sold 48/2 = <<48/2=24>>24 clips in May.',
  'Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.',
  '#### 72',
].join('\n');

/** [reference, response, earns the reward] */
const TABLE: [string, string, boolean][] = [
  // GSM8K
  [GSM8K_NATALIA, 'She sold 24 in May, so 48 + 24 = 72 in total.\n#### 72', true],
  [GSM8K_NATALIA, 'So the answer is 72 clips.', true],
  [GSM8K_NATALIA, 'So the answer is 71 clips.', false],
  ['#### 1080', 'The total cost is $1,080.', true],
  ['#### 18', "Janet makes \\$18 every day at the farmers' market.\n#### 18", true],
  ['#### 18', '**Answer:** $18.00', true],
  ['#### 5', 'It takes her 5 hours.\n#### 5 hours', true],
  ['#### 624', 'He needs 642 tiles.\n#### 642', false],
  ['#### 35', 'Answer: 35%', true],
  ['#### 3', '#### Step 1\nShe has 10 apples.\n#### Step 2: she eats 7\nThe answer is 3.', true],
  ['#### 20', 'The answer is 20.5', false],
  ['#### 1000000', 'The prize is $\\boxed{1{,}000{,}000}$ dollars.', true],
  ['#### 7', '#### 7\nWait, 3 + 5 = 8, not 7.\n#### 8', false],
  ['#### -3', 'The temperature ends at -3 degrees.', true],
  // MATH: numbers and radicals
  ['\\frac{\\sqrt{2}}{2}', 'so $\\boxed{\\sqrt{2}/2}$', true],
  ['\\frac{\\sqrt{3}}{3}', 'Rationalizing is optional: $\\boxed{\\frac{1}{\\sqrt{3}}}$', true],
  ['3\\sqrt{2}', '\\boxed{\\sqrt{18}}', true],
  ['4\\sqrt{3}', '\\boxed{\\sqrt{48}}', true],
  ['2\\pi', '\\boxed{\\pi \\cdot 2}', true],
  ['\\dfrac{3}{4}', '\\boxed{0.75}', true],
  ['\\dfrac34', 'Answer: 3/4', true],
  ['5', '\\boxed{\\sqrt{25}}', true],
  ['1024', '\\boxed{2^{10}}', true],
  ['0', '\\boxed{\\sin \\pi}', true],
  ['\\frac{1+\\sqrt{5}}{2}', '\\boxed{\\frac{\\sqrt{5}+1}{2}}', true],
  ['The solution is $x=\\boxed{\\frac{7}{2}}$, as claimed.', '\\boxed{3.5}', true],
  ['1.50', '\\boxed{\\$1.5}', true],
  ['\\sqrt{2}', '\\boxed{1.4142135624}', true],
  ['6+9i', '\\boxed{9i+6}', true],
  ['\\sqrt{2}', '\\boxed{\\sqrt{3}}', false],
  ['\\frac{\\sqrt{2}}{2}', '\\boxed{\\frac{\\sqrt{2}}{3}}', false],
  ['\\frac{1+\\sqrt{5}}{2}', '\\boxed{\\frac{1-\\sqrt{5}}{2}}', false],
  ['\\frac{7}{2}', '\\boxed{3.49}', false],
  ['10\\pi', '\\boxed{31.4}', false],
  ['\\sqrt{2}', '\\boxed{1.414}', false],
  ['\\frac{1}{3}', '\\boxed{0.3333333333}', false],
  ['6+9i', '\\boxed{6-9i}', false],
  // MATH: tuples, intervals, sets
  ['(1,2)', '\\boxed{(1, 2)}', true],
  ['\\left( 3, \\frac{\\pi}{2} \\right)', '\\boxed{(3, \\frac{\\pi}{2})}', true],
  ['(-2, \\frac{1}{2})', '\\boxed{(-2, 0.5)}', true],
  ['[0,1)', '\\boxed{[0, 1)}', true],
  ['(-\\infty,-2)\\cup(3,\\infty)', '\\boxed{(3,\\infty)\\cup(-\\infty,-2)}', true],
  ['\\{-1, 3\\}', '\\boxed{\\{3,-1\\}}', true],
  [
    'Trying $x = \\boxed{3}$ gives $4 \\neq 0$, so factor: the solutions are $\\fbox{\\{-1, 2\\}}$.',
    '\\boxed{2, -1}',
    true,
  ],
  ['-1, 2', 'The solutions are $\\boxed{2,-1}$.', true],
  ['(1,2)', '\\boxed{(2,1)}', false],
  ['(-1,2)', '\\boxed{2, -1}', false],
  ['1, 2', '\\boxed{1, 3}', false],
  ['[0,1]', '\\boxed{[0,1)}', false],
  ['(-\\infty, 3]', '\\boxed{(-\\infty,3)}', false],
  // MATH: degrees, expressions, equations
  ['90^\\circ', '\\boxed{90}', true],
  ['x^2+2x+1', '\\boxed{(x+1)^2}', true],
  ['x^2-1', '\\boxed{(x-1)(x+1)}', true],
  ['y = 2x + 3', '\\boxed{y=3+2x}', true],
  ['x = 5', 'Answer: 5', true],
  ['30^\\circ', '\\boxed{60^\\circ}', false],
  ['\\frac{\\pi}{4}', '\\boxed{45^\\circ}', false], // degrees read as a plain number: 45, not pi/4
  ['x+1', '\\boxed{x-1}', false],
  // MATH: text and multiple choice
  ['\\text{(B)}', 'The answer is (B).', true],
  ['\\text{(C)}', '\\boxed{\\textbf{(C)}}', true],
  ['\\text{Evelyn}', '\\boxed{\\text{Evelyn}}', true],
  ['\\text{(C)}', '\\boxed{B}', false],
  ['\\text{Evelyn}', '\\boxed{\\text{Evan}}', false],
  ['\\text{no}', '\\boxed{\\text{on}}', false],
  // AIME
  ['033', '\\boxed{33}', true],
  ['33', '\\boxed{033}', true],
  ['007', 'The answer is 7.', true],
  ['080', 'Answer: 80', true],
  ['999', '#### 999', true],
  ['25', '\\boxed{025.}', true],
  ['204', '\\boxed{240}', false],
  ['52', '\\boxed{52}\n\nWait, let me recheck that. \\boxed{25}', false],
];

for (const [reference, response, want] of TABLE) {
  test(`${want ? 'accepts' : 'rejects'} ${JSON.stringify(response)} for ${JSON.stringify(reference)}`, (t) => {
    t.is(isCorrect(response, reference), want);
    t.is(reward(response, reference), want ? 1 : 0);
  });
}

test('the table holds at least 50 pairs, at least 15 of them not equal', (t) => {
  t.true(TABLE.length >= 50, `${TABLE.length}`);
  t.true(TABLE.filter(([, , want]) => !want).length >= 15);
});

const HOSTILE = [
  `${'\\frac{'.repeat(5000)}1${'}{2}'.repeat(5000)}`,
  `${'\\frac{'.repeat(9)}1${'}{2}'.repeat(9)}`,
  '10^{10^{10^{10}}}',
  '9999999999999!',
  '2^{100000000}',
  '(2^{100})^{100}',
  '1e999999',
  '\\exp(100000000000000000000)',
  '\\sin(10^{20})',
  '(x+y+z+w)^{100}',
  Array.from({ length: 12 }, (_, i) => `(a_${i}+b)`).join(''),
  Array.from({ length: 20 }, (_, i) => `${i + 2}^{99}`).join('\\cdot '),
  `${'\\sqrt{'.repeat(10)}2${'}'.repeat(10)}`,
  `${'\\sqrt'.repeat(80)}2`,
  'x^{100}'.repeat(30),
  `${'1+'.repeat(100)}1`,
  '(1+\\sqrt{2})'.repeat(20),
  '\\binom{200}{100}',
  '(50!)^{100}',
  '\\frac{1}{0}',
  '0^0',
  '\\ln 0',
  'x := 5',
  '\\def\\x{\\x\\x}\\x',
  '\\begin{matrix}1&2\\\\3&4\\end{matrix}',
  '\\operatorname{foo}(3)',
  '{'.repeat(300),
  '\u0000\uffff\ud800',
];

test('hostile answers return false quickly and never throw', (t) => {
  answerMatches('\\sqrt{2}', '1'); // builds the engine outside the timing
  let worst = 0;
  for (const answer of HOSTILE) {
    for (const reference of ['1', '\\sqrt{2}', 'x+1', '(1,2)']) {
      const start = performance.now();
      t.false(isCorrect(`\\boxed{${answer}}`, reference), `${answer.slice(0, 40)} vs ${reference}`);
      t.false(answerMatches(answer, reference));
      worst = Math.max(worst, (performance.now() - start) / 2);
    }
  }
  // A hang or a blow-up takes seconds; a typical worst case is a few milliseconds (tens on a loaded machine).
  t.log(`slowest call: ${worst.toFixed(1)} ms`);
  t.true(worst < 500, `${worst.toFixed(1)} ms`);
});

test('a hostile answer equals itself only as text', (t) => {
  t.true(answerMatches('10^{10^{10^{10}}}', '10^{10^{10^{10}}}'));
  t.false(answerMatches('10^{10^{10^{10}}}', '10^{10^{10^{10}}}+0'));
});

test('an assignment in one answer leaves no trace in the next comparison', (t) => {
  t.false(answerMatches('x := 5', '5'));
  t.false(answerMatches('x+1', '6'));
  t.true(answerMatches('x+1', '1+x'));
});

test('verdicts do not depend on the order of the comparisons', (t) => {
  const verdicts = (rows: [string, string, boolean][]) => rows.map(([ref, res]) => isCorrect(res, ref));
  const forward = verdicts(TABLE);
  for (const answer of HOSTILE) answerMatches(answer, 'x');
  const backward = verdicts([...TABLE].reverse()).reverse();
  t.deepEqual(backward, forward);
  t.deepEqual(
    forward,
    TABLE.map(([, , want]) => want),
  );
});
