// `sat-peer status`'s lines of a snapshot: peers connected counted in words that agree with the number, the peers it
// excluded from the team, a slot's replicas, and a peer still joining its team shown as such, with no peer id yet.
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

test('the peers it excluded from the team are listed, each with the stage from which and why', (t) => {
  const why =
    'its update for slot 0 in stage 3 was refused: its record claims klQuantile 0.001, its log-probs give 0.004';
  const lines = statusLines({ ...SNAPSHOT, excluded: [{ peer: '12D3…abcdef', from: 4, why }] }, 'http://x/');
  t.true(lines.includes(`excluded 12D3…abcdef from stage 4 on: ${why}`));
  t.false(statusLines(SNAPSHOT, 'http://x/').some((l) => l.startsWith('excluded')));
});

test("a slot's replicas are listed after its holder, in line order, this process marked", (t) => {
  const slot = { slot: 0, peer: '12D3…holder', claimAgeS: 60, heartbeatAgeS: 1, stage: 3, self: false };
  const lines = statusLines({ ...SNAPSHOT, roster: [{ ...slot, replicas: ['12D3…first', '12D3…me*'] }] }, 'http://x/');
  t.true(
    lines.some((l) => /^ {3}0 {2}12D3…holder .* {2}replicas 12D3…first, 12D3…me\*$/.test(l)),
    lines.join('\n'),
  );
  t.false(statusLines({ ...SNAPSHOT, roster: [slot] }, 'http://x/').some((l) => l.includes('replicas')));
});
