import test from 'ava';
import { rendezvous } from '../../node/protocol/rendezvous.ts';

const peers = ['12D3KooWA', '12D3KooWB', '12D3KooWC', '12D3KooWD'];

test('every peer ranks the candidates of a key alike, whatever order it lists them in', (t) => {
  for (const key of ['a/1/train/0/0/0', 'a/1/train/0/0/1', 'b/2/train/0/1/15']) {
    const ranked = rendezvous(key, peers);
    t.deepEqual([...ranked].sort(), [...peers].sort());
    t.deepEqual(rendezvous(key, [...peers].reverse()), ranked);
  }
});

test('keys spread over the candidates, and one leaving moves only the keys it ranked first', (t) => {
  const keys = Array.from({ length: 400 }, (_, c) => `seed/3/train/0/1/${c}`);
  const first = keys.map((k) => rendezvous(k, peers)[0]);
  for (const p of peers) {
    const n = first.filter((f) => f === p).length;
    t.true(n > 60 && n < 140, `${p} ranks first for ${n} of 400 keys`);
  }
  const without = keys.map((k) => rendezvous(k, peers.slice(1))[0]);
  keys.forEach((k, i) => {
    if (first[i] !== peers[0]) t.is(without[i], first[i]);
    else t.is(without[i], rendezvous(k, peers)[1], 'its keys fall to their second');
  });
  t.notDeepEqual(
    rendezvous('seed/3/train/0/1/0', peers),
    rendezvous('other/3/train/0/1/0', peers),
    'another seed ranks otherwise (for this pair of keys)',
  );
});
