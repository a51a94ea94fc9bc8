import test from 'ava';
import { majorityAnswer } from '../../node/sat/evaluate.ts';

test('the majority answer compares answers by value and skips samples without one', (t) => {
  t.is(majorityAnswer(['1/2', '3', '0.5', undefined, '3', '\\frac{1}{2}']), '1/2');
  t.is(majorityAnswer(['7', '8']), '7', 'ties go to the first seen');
  t.is(majorityAnswer([undefined, undefined]), undefined);
  // LaTeX answers of one value vote together, however they are written.
  t.is(majorityAnswer(['3', '\\sqrt2/2', '3', '\\frac{\\sqrt{2}}{2}', '\\frac{1}{\\sqrt2}']), '\\sqrt2/2');
  t.is(majorityAnswer(['(1,2)', '(2,1)', '(2, 1)']), '(2,1)', 'a pair in another order is another answer');
});
