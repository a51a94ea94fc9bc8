// The bounds on what the LaTeX engine is given: text, parsed trees (MathJSON as the parser writes it) and
// expansions. Inside the bounds an answer is compared by value, outside as text (math-answers.test.ts).
import test from 'ava';
import { boundedTree, expansionTerms, parsableLatex } from '../../node/tasks/latex-bounds.ts';

const texts: [string, boolean][] = [
  ['\\frac{\\sqrt{2}}{2}', true],
  ['(-\\infty, 3]\\cup[5,\\infty)', true],
  ['x^2+2x+1', true],
  ['', false],
  ['x'.repeat(257), false],
  [`${'{'.repeat(11)}1${'}'.repeat(11)}`, false],
  ['Yes', false],
  ['5cm', false],
  ['\\operatorname{foo}(3)', false],
  ['1e999999', false],
  ['1e99', true],
];

for (const [latex, want] of texts) {
  test(`parsableLatex(${JSON.stringify(latex.slice(0, 40))}) is ${want}`, (t) => {
    t.is(parsableLatex(latex), want);
  });
}

const trees: [string, unknown, boolean][] = [
  ['\\frac{\\sqrt2}{2}', ['Divide', ['Sqrt', 2], 2], true],
  ['(1,2)', ['Delimiter', ['Sequence', 1, 2], "'(,)'"], true],
  ['2\\pi', ['InvisibleOperator', 2, 'Pi'], true],
  ['x_1 + \\theta', ['Add', 'x_1', 'theta'], true],
  ['2^{100}', ['Power', 2, 100], true],
  ['2^{-1/2}', ['Power', 2, ['Negate', ['Divide', 1, 2]]], true],
  ['2^{n+1}', ['Power', 2, ['Add', 'n', 1]], true],
  ['2^{101}', ['Power', 2, 101], false],
  ['(2^{10})^{20}', ['Power', ['Delimiter', ['Power', 2, 10]], 20], false],
  ['10^{10^{10}}', ['Power', 10, ['Power', 10, 10]], false],
  ['2^{\\pi}', ['Power', 2, 'Pi'], false],
  ['50!', ['Factorial', 50], true],
  ['51!', ['Factorial', 51], false],
  ['(3!)!', ['Factorial', ['Delimiter', ['Factorial', 3]]], false],
  ['10^{21}', { num: '1000000000000000000000' }, false],
  ['x := 5', ['Assign', 'x', 5], false],
  ['\\text{a}', "'a'", false],
  ['f(x)', ['f', 'x'], false],
  ['1+1+…', ['Add', ...Array(40).fill(1)], false],
];

for (const [latex, json, want] of trees) {
  test(`boundedTree of ${latex} is ${want}`, (t) => {
    t.is(boundedTree(json), want);
  });
}

test('expansionTerms counts the terms an expansion could have', (t) => {
  t.is(expansionTerms(['Power', ['Add', 'x', 1], 2]), 4);
  t.is(expansionTerms(['Multiply', ['Add', 'x', 1], ['Add', 'x', -1]]), 4);
  t.is(expansionTerms(['Power', ['Add', 'a', 'b'], 4]), 16);
  t.is(expansionTerms(['Power', ['Add', 'x', 1], 5]), Number.POSITIVE_INFINITY);
  t.is(expansionTerms(['Power', ['Add', 'x', 1], 'n']), 2);
  t.is(expansionTerms('x'), 1);
});
