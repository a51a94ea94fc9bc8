import test from 'ava';
import { refusalOf, skippedRecord } from '../../node/sat/update-record.ts';

test("a claimed gap stands within rounding of the receiver's own (a chunk's copies differ so), not beyond", (t) => {
  const computed = { ...skippedRecord(0, 'first', 0.5), gap: 2e-5 };
  const inputs = { logpCur: [Float32Array.of(-1)], logpNew: [Float32Array.of(-1)] };
  t.is(refusalOf({ ...computed, gap: 1e-5 }, computed, inputs), undefined);
  t.is(
    refusalOf({ ...computed, gap: 0.01 }, computed, inputs),
    'its record claims gap 0.01, its log-probs give 0.00002',
  );
  t.is(
    refusalOf({ ...computed, n: 3 }, computed, inputs),
    'its record claims n 3, its log-probs give 0',
    'the other numbers stand only as computed',
  );
});
