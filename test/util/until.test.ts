import test from 'ava';
import { sleep, until } from '../../node/util/until.ts';

test('until resolves true as soon as the condition holds, polling every `every` ms', async (t) => {
  let calls = 0;
  const t0 = Date.now();
  t.true(await until(() => ++calls === 3, { every: 20 }));
  t.is(calls, 3);
  const took = Date.now() - t0;
  t.true(took >= 35 && took < 1000, `two waits of 20 ms took ${took} ms`);
  // A condition that holds at once is not waited for.
  const t1 = Date.now();
  t.true(await until(() => true, { every: 10_000 }));
  t.true(Date.now() - t1 < 100);
});

test('until resolves false at the timeout, after a last check', async (t) => {
  let calls = 0;
  const t0 = Date.now();
  t.false(
    await until(
      () => {
        calls++;
        return false;
      },
      { every: 30, timeoutMs: 100 },
    ),
  );
  const took = Date.now() - t0;
  t.true(took >= 95 && took < 1000, `gave up after ${took} ms`);
  t.true(calls >= 2 && calls <= 6, `checked ${calls} times`);
  // The last check at the timeout still counts.
  let n = 0;
  t.true(await until(() => ++n === 2, { every: 1_000, timeoutMs: 30 }));
});

test('until resolves false once its signal aborts, without waiting out the poll', async (t) => {
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 30);
  const t0 = Date.now();
  t.false(await until(() => false, { every: 10_000, signal: stop.signal }));
  t.true(Date.now() - t0 < 1000);
  // Aborted before it starts, it checks nothing.
  let calls = 0;
  t.false(await until(() => ++calls > 0, { signal: stop.signal }));
  t.is(calls, 0);
});

test('until awaits an async condition, and rejects with the error of one that throws', async (t) => {
  let calls = 0;
  t.true(await until(async () => ++calls === 2, { every: 5 }));
  await t.throwsAsync(
    until(() => {
      throw new Error('broken');
    }),
    { message: 'broken' },
  );
});

test('sleep waits its time, or until its signal aborts', async (t) => {
  const t0 = Date.now();
  await sleep(40);
  t.true(Date.now() - t0 >= 35);
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 20);
  const t1 = Date.now();
  await sleep(10_000, stop.signal);
  t.true(Date.now() - t1 < 1000);
  await sleep(10_000, stop.signal); // already aborted: at once
  t.true(Date.now() - t1 < 1000);
});
