// The latest warnings and errors: ordinary lines pass, the last few warnings and errors stay, oldest first.
import test from 'ava';
import { levelOf, logRing } from '../../node/ops/log-ring.ts';

test('keeps the last warnings and errors only', (t) => {
  t.is(levelOf('listening on /ip4/127.0.0.1/tcp/4001'), undefined);
  t.is(levelOf('bootstrap /ip4/1.2.3.4/tcp/1 failed: connection refused'), 'error');
  t.is(levelOf("waited 60 s for slot 1's turn: the team goes on once its peer is back"), 'warn');
  t.is(levelOf("slot 0's state could not be offered to the team: no peer"), 'warn');
  // Routine waits are ordinary lines: a team assembling, an upgrade's hand-over.
  t.is(levelOf('stage 0: waiting for the team (slot 1 has no peer) for 20 s, 1 peer connected'), undefined);
  t.is(levelOf("waiting for slot 1's incumbent to hand its tensors over at stage 3"), undefined);
  const ring = logRing(3);
  ring.note('stage 1 done');
  for (let i = 0; i < 5; i++) ring.note(`dial ${i} failed`);
  t.deepEqual(
    ring.entries().map((e) => e.line),
    ['dial 2 failed', 'dial 3 failed', 'dial 4 failed'],
  );
  t.true(ring.entries().every((e) => e.level === 'error' && e.time > 0));
});
