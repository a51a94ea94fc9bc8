import test from 'ava';
import type { Generation } from '../../node/agent/model/generate.ts';
import { makeShare, ROW_CHUNKS, rowChunks } from '../../node/peer/turn-shares.ts';
import { rendezvous } from '../../node/protocol/rendezvous.ts';

test("a turn's rows are cut into contiguous chunks that cover each row once", (t) => {
  for (const rows of [1, 5, 16, 17, 100]) {
    const chunks = rowChunks(rows);
    t.is(chunks.length, Math.min(rows, ROW_CHUNKS));
    t.deepEqual(
      chunks.flat(),
      Array.from({ length: rows }, (_, r) => r),
    );
    t.true(chunks.every((c) => c.length >= Math.floor(rows / chunks.length)));
  }
});

test("each chunk is made by the peer its rendezvous ranks first; a silent peer's fall to the next after a deadline", async (t) => {
  const line = ['peer-A', 'peer-B', 'peer-C']; // C never makes its share
  const rows = 40;
  const maker = new Map<number, string>();
  let wholeNow = () => {};
  const whole = new Promise<void>((resolve) => {
    wholeNow = resolve;
  });
  const made: string[] = [];
  const share = (me: string) =>
    makeShare({
      key: 'seed/1/train/0/0',
      rows,
      line,
      me,
      deadlineMs: 300,
      make: async (rs) => rs.map((r): Generation => ({ tokens: [r], logprobs: [-1], finishReason: 'eos' })),
      arrived: (c) => maker.has(c),
      publish: async (chunk, chunks, rs, out) => {
        t.deepEqual(
          out.map((g) => g.tokens[0]),
          [...rs],
          'each row made as itself',
        );
        made.push(`${me}:${chunk}`);
        if (!maker.has(chunk)) maker.set(chunk, me);
        if (maker.size === chunks) wholeNow();
      },
      whole,
    });
  const t0 = Date.now();
  const [a, b] = await Promise.all([share('peer-A'), share('peer-B')]);
  const chunks = rowChunks(rows);
  const silent = chunks.filter((_, c) => rendezvous(`seed/1/train/0/0/${c}`, line)[0] === 'peer-C').length;
  t.true(silent > 0, 'C ranks first for some chunks');
  chunks.forEach((_, c) => {
    const [first, second] = rendezvous(`seed/1/train/0/0/${c}`, line);
    t.is(maker.get(c), first === 'peer-C' ? second : first);
  });
  t.is(a + b, chunks.length, 'no chunk made twice');
  t.is(new Set(made).size, made.length);
  t.true(Date.now() - t0 >= 300, "C's chunks waited a deadline");
});
