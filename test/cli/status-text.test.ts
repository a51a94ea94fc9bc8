// `sat-peer status`'s lines of a snapshot: peers connected counted in words that agree with the number, and a
// peer still joining its team shown as such, with no peer id yet.
import test from 'ava';
import { statusLines } from '../../node/cli/status-text.ts';
import type { StatusSnapshot } from '../../node/ops/status-snapshot.ts';

const SNAPSHOT: StatusSnapshot = {
  role: 'peer',
  peerId: '12D3KooWtest',
  slot: 1,
  stage: 2,
  stagesDone: 1,
  roster: [],
  stages: [],
  connections: 1,
  errors: [],
  time: 1,
};

test('one peer connected, or several', (t) => {
  const url = 'http://127.0.0.1:9100/';
  t.regex(statusLines(SNAPSHOT, url)[1], /, 1 peer connected$/);
  t.regex(statusLines({ ...SNAPSHOT, connections: 0 }, url)[1], /, 0 peers connected$/);
  t.regex(statusLines({ ...SNAPSHOT, connections: 3 }, url)[1], /, 3 peers connected$/);
});

test('a peer joining its team has no peer id yet', (t) => {
  const [first] = statusLines(
    { ...SNAPSHOT, peerId: '', joining: true, slot: undefined, team: 'bafkreiteam' },
    'http://127.0.0.1:9100/',
  );
  t.is(first, 'peer (joining its team) at http://127.0.0.1:9100/');
});
