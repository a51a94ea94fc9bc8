// The math answer verifier on tricky cases: extraction priority, exact rational comparison, LaTeX
// noise, units, and text answers. One test per case so a failure names it. The table of real-style
// answers compared by value is math-answers.test.ts.
import test from 'ava';
import {
  answerMatches,
  extractAnswer,
  isCorrect,
  lastBoxed,
  normalizeAnswer,
  reward,
} from '../../node/tasks/verifier.ts';

const extractions: [string, string | undefined][] = [
  ['The result is \\boxed{\\frac{1}{2}}.', '\\frac{1}{2}'],
  ['First \\boxed{3}, then corrected: \\boxed{4}', '4'],
  ['\\boxed{\\frac{\\sqrt{2}}{2}} wins over Answer: 7', '\\frac{\\sqrt{2}}{2}'],
  ['spaced \\boxed {12} and framed', '12'],
  ['framed \\fbox{-5}', '-5'],
  ['a set \\boxed{\\{1, 2\\}}', '\\{1, 2\\}'],
  ['an unclosed \\boxed{7 falls back to Answer: 8', '8'],
  ['an empty box \\boxed{} is skipped; \\boxed{9} earlier? no: \\boxed{}', '9'],
  ['Answer: 1,234', '1,234'],
  ['answer: 3\nso the ANSWER IS 5.', '5'],
  ['The answer is: $\\frac{3}{4}$. Done.', '$\\frac{3}{4}$'],
  ['**Answer:** 42', '42'],
  ['Answer: 3.5.', '3.5'],
  ['I got 3 apples and then 12 more', '12'],
  ['from 10-20 we get x-5', '5'],
  ['the temperature is -7 today', '-7'],
  ['half is .5', '.5'],
  ['ratio 3/4 here', '3/4'],
  ['so it is $-\\frac{3}{4}$', '-\\frac{3}{4}'],
  ['in 2024 we sold 1,000,000 units', '1,000,000'],
  ['She earns 3 * 6 = <<3*6=18>>18 dollars.\n#### 18', '18'],
  ['#### 1,000\nNo: #### 2,000', '2,000'],
  ['#### $18.', '$18.'],
  ['\\boxed{4} beats\n#### 5', '4'],
  ['#### 5\nbeats Answer: 6', '5'],
  ['#### Step 2: add 7\nThe answer is 9', '9'],
  ['##### 5 is no GSM8K line, so 6', '6'],
  ['The final answer is $\\boxed{12}$. I hope it is correct.', '12'],
  ['So the answer is $x = 4$.', '$x = 4$'],
  ['H2O and x2 hold no number', undefined],
  ['no numbers here at all', undefined],
  ['', undefined],
];

for (const [text, want] of extractions) {
  test(`extractAnswer(${JSON.stringify(text)}) is ${JSON.stringify(want)}`, (t) => {
    t.is(extractAnswer(text), want);
  });
}

const canonical: [string, string][] = [
  ['1,234', '1234'],
  ['-5', '-5'],
  ['+7', '7'],
  ['-0', '0'],
  ['007', '7'],
  ['3.50', '7/2'],
  ['.5', '1/2'],
  ['1e3', '1000'],
  ['2.5E-2', '1/40'],
  ['1e999', '1e999'],
  ['\\frac{1}{2}', '1/2'],
  ['\\dfrac{-3}{4}', '-3/4'],
  ['-\\tfrac{6}{8}', '-3/4'],
  ['\\frac12', '1/2'],
  ['\\frac{\\frac{1}{2}}{3}', '1/6'],
  ['4/-2', '-2'],
  ['--5', '--5'],
  ['1/0', '1/0'],
  ['$\\$1,000.50$', '2001/2'],
  ['5\\,000', '5000'],
  ['\\left( 3 \\right)', '3'],
  ['5\\text{ cm}', '5'],
  ['5\\text{ cm}^2', '5'],
  ['12 apples', '12'],
  ['12apples', '12'],
  ['3 hours 20 minutes', '3 hours 20 minutes'],
  ['5x', '5x'],
  ['90^\\circ', '90'],
  ['90^{\\circ}', '90'],
  ['50\\%', '50'],
  ['42.', '42'],
  ['x = 5', '5'],
  ['\u22124', '-4'],
  ['\\text{(A)}', 'A'],
  ['(B)', 'B'],
  ['(AB)', '(AB)'],
  ['10{,}000', '10000'],
  ['\\displaystyle\\frac{1}{2}', '1/2'],
  ['x \\in [2, 5)', '[2,5)'],
  ['x + 1', 'x+1'],
  ['New   York', 'New York'],
  ['3 4', '3 4'],
  ['(1,2)', '(1,2)'],
];

for (const [answer, want] of canonical) {
  test(`normalizeAnswer(${JSON.stringify(answer)}) is ${JSON.stringify(want)}`, (t) => {
    t.is(normalizeAnswer(answer), want);
  });
}

const verdicts: [string, string, boolean][] = [
  ['\\boxed{\\frac{1}{2}}', '0.5', true],
  ['Answer: 0.5', '\\frac{1}{2}', true],
  ['\\boxed{\\dfrac{-3}{4}}', '-3/4', true],
  ['The answer is -0.75', '\\dfrac{-3}{4}', true],
  ['\\boxed{0.3}', '3/10', true],
  ['Answer: 0.30000000000000004', '0.3', false],
  ['\\boxed{1} then \\boxed{2}', '2', true],
  ['\\boxed{1} then \\boxed{2}', '1', false],
  ['Answer: 1,234', '1234', true],
  ['Answer: -0', '0', true],
  ['Answer: 007', '7', true],
  ['so we need 1e3', '1000', true],
  ['It costs \\$30 dollars', '30', true],
  ['It weighs 12 kg', '12', true],
  ['\\boxed{5x}', '5', false],
  ['\\boxed{\\text{Yes}}', 'Yes', true],
  ['\\boxed{x + 1}', 'x+1', true],
  ['I cannot solve this.', '5', false],
  ['Answer: 5', '', false],
  ['the answer is \\boxed{42}', 'so \\boxed{42}', true],
  ['#### 72', 'So 48 + 24 = <<48+24=72>>72.\n#### 72', true],
  ['#### 72', '#### 27', false],
  ['\\boxed{\\sqrt{18}}', '3\\sqrt{2}', true],
  ['\\boxed{(A)}', '\\text{(A)}', true],
];

for (const [response, reference, want] of verdicts) {
  test(`isCorrect(${JSON.stringify(response)}, ${JSON.stringify(reference)}) is ${want}`, (t) => {
    t.is(isCorrect(response, reference), want);
    t.is(reward(response, reference), want ? 1 : 0);
  });
}

test('hostile inputs neither throw nor hang', (t) => {
  t.is(normalizeAnswer(`${'{'.repeat(5000)}1${'}'.repeat(5000)}`).length, 10001, 'nesting deeper than 32 is text');
  t.is(normalizeAnswer(`${'{'.repeat(20)}1${'}'.repeat(20)}`), '1');
  t.false(isCorrect('\\boxed{'.repeat(20000), '1'));
  t.true(isCorrect(`${'word 7 '.repeat(50000)}Answer: 5`, '5'));
});

test('an answer already extracted compares like the response it came from', (t) => {
  t.true(answerMatches('\\frac{1}{2}', '0.5'));
  t.true(answerMatches('1,234', '\\boxed{1234}'));
  t.false(answerMatches('the answer is 3', '3'), 'no second extraction');
  t.false(answerMatches('7', ''));
});

test('lastBoxed takes the last non-empty, balanced box, or a bare \\boxed x, in one pass however many boxes open', (t) => {
  const cases: [string, string | undefined][] = [
    ['$\\boxed{\\frac{1}{2}}$', '\\frac{1}{2}'],
    ['\\boxed{1} then \\boxed{\\sqrt{\\frac{a}{b}}}.', '\\sqrt{\\frac{a}{b}}'],
    ['\\fbox{ 7 }', '7'],
    ['\\boxed {x}', 'x'],
    ['\\boxed{\\{1, 2\\}}', '\\{1, 2\\}'],
    ['\\boxed{a \\\\ b}', 'a \\\\ b'],
    ['so $\\boxed 5$.', '5'],
    ['\\boxed{3} and an unclosed \\boxed{4', '3'],
    ['\\boxed{2} and \\boxed{ }', '2'],
    ['\\boxedx{2}', undefined],
    ['no box', undefined],
  ];
  for (const [text, want] of cases) t.is(lastBoxed(text), want, text);
});
