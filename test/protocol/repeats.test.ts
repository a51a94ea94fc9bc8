import test from 'ava';
import { nextRepeat } from '../../node/protocol/repeats.ts';

/** The times a message made at 0 goes out again, its first repeat at `first`, up to `until`. */
function repeats(first: number, until: number, minMs: number, maxMs?: number): number[] {
  const at = [first];
  while (at.at(-1)! < until) at.push(nextRepeat(0, at.at(-1)!, minMs, maxMs));
  return at;
}

test('a message goes out again at twice its age, never sooner than the least wait, nor later than the most', (t) => {
  t.deepEqual(repeats(2_000, 60_000, 2_000), [2_000, 4_000, 8_000, 16_000, 32_000, 64_000]);
  t.deepEqual(repeats(2_000, 30_000, 2_000, 8_000), [2_000, 4_000, 8_000, 16_000, 24_000, 32_000]);
  t.is(nextRepeat(0, 100, 2_000), 2_100, 'one just made waits the least wait');
});
