import test from 'ava';
import { orderAgents } from '../../node/sat/scheduler.ts';

test('static is slot order; random is a seeded permutation every peer computes alike', (t) => {
  t.deepEqual(orderAgents('static', 4, 'team:1'), [0, 1, 2, 3]);
  const a = orderAgents('random', 6, 'team:1');
  t.deepEqual(a, orderAgents('random', 6, 'team:1'));
  t.deepEqual([...a].sort(), [0, 1, 2, 3, 4, 5]);
  const orders = new Set(Array.from({ length: 20 }, (_, k) => orderAgents('random', 6, `team:${k}`).join()));
  t.true(orders.size > 10, 'stages get different orders');
});

test('greedy_info_gain puts the largest predicted gain first, ties by slot', (t) => {
  t.deepEqual(orderAgents('greedy_info_gain', 4, 's', [0.1, 0.5, 0.1, 0.3]), [1, 3, 0, 2]);
  t.throws(() => orderAgents('greedy_info_gain', 3, 's', [1]), { name: 'InputError' });
});
