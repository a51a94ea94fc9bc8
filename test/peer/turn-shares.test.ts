import test from 'ava';
import type { Generation } from '../../node/agent/model/generate.ts';
import { type HeldChunk, ROW_CHUNKS, rowChunks, takeShare } from '../../node/peer/turn-shares.ts';
import { rendezvous } from '../../node/protocol/rendezvous.ts';
import type { MakeRows } from '../../node/tasks/chain.ts';

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

/** Row r's turn, as the seeded sampler makes it: token r (an off-sampler maker makes another). */
const honest: MakeRows = async (rows) =>
  rows.map((r): Generation => ({ tokens: [r], logprobs: [-1], finishReason: 'eos' }));

/**
 * The line's peers sharing one turn of `rows` rows, each with its `make`, over one shared board: what each publishes is
 * held until another peer checks it, then taken (it holds up) or dropped with its maker refused.
 */
async function shareOnBoard(rows: number, line: string[], makers: Record<string, MakeRows>, misnames?: string) {
  // Every peer checks others' rows as the seeded sampler makes them (a cheat's checks are honest here).
  const key = 'seed/1/train/0/0';
  const taken = new Map<number, string>(); // chunk -> its maker
  const held = new Map<string, HeldChunk>();
  const refused = new Set<string>();
  const published: string[] = [];
  let wholeNow = () => {};
  const whole = new Promise<void>((resolve) => {
    wholeNow = resolve;
  });
  const chunks = rowChunks(rows).length;
  /** A chunk no peer but its maker and refused ones could check is taken as it is. */
  const takeUncheckable = () => {
    for (const [k, h] of held)
      if (!refused.has(h.maker) && line.every((p) => p === h.maker || refused.has(p))) {
        held.delete(k);
        taken.set(h.chunk, h.maker);
      }
    if (taken.size === chunks) wholeNow();
  };
  const share = (me: string) =>
    takeShare({
      key,
      rows,
      line,
      me,
      deadlineMs: 300,
      make: makers[me],
      again: honest,
      rescore: async (ts) => ts.map(() => 0),
      arrived: (c) => taken.has(c) || [...held.values()].some((h) => h.chunk === c),
      excluded: (p) => refused.has(p),
      held: () => [...held.values()],
      publish: async (chunk, _chunks, rs, out) => {
        published.push(`${me}:${chunk}`);
        const cid = `${me}/${chunk}`;
        const transcripts = rs.map((_, i) => ({
          promptIds: [],
          turns: [{ slot: 0, ids: out[i].tokens, logprobs: out[i].logprobs }],
        }));
        // A peer that misnames its chunks says they hold the rows after theirs.
        const named = me === misnames ? rs.map((r) => r + 1) : [...rs];
        held.set(cid, { cid, chunk, maker: me, since: Date.now(), rows: named, transcripts });
        takeUncheckable();
      },
      attest: async (h, why) => {
        if (!held.delete(h.cid)) return;
        if (why) refused.add(h.maker);
        else taken.set(h.chunk, h.maker);
        takeUncheckable();
      },
      whole,
    });
  const live = line.filter((p) => makers[p]);
  const made = await Promise.all(live.map(share));
  return { key, taken, refused, published, made: Object.fromEntries(live.map((p, i) => [p, made[i]])) };
}

test("each chunk is made by the peer its rendezvous ranks first and checked by another; a silent peer's fall to the next", async (t) => {
  const line = ['peer-A', 'peer-B', 'peer-C']; // C never makes its share
  const t0 = Date.now();
  const { key, taken, published, made } = await shareOnBoard(40, line, { 'peer-A': honest, 'peer-B': honest });
  const chunks = rowChunks(40);
  const silent = chunks.filter((_, c) => rendezvous(`${key}/${c}`, line)[0] === 'peer-C').length;
  t.true(silent > 0, 'C ranks first for some chunks');
  chunks.forEach((_, c) => {
    const [first, second] = rendezvous(`${key}/${c}`, line);
    t.is(taken.get(c), first === 'peer-C' ? second : first);
  });
  t.is(made['peer-A'] + made['peer-B'], chunks.length, 'no chunk made twice');
  t.is(new Set(published).size, published.length);
  t.true(Date.now() - t0 >= 300, "C's chunks waited a deadline");
});

test("a chunk whose tokens are not the seeded sampler's is refused by the peer that checks it, and remade by the next", async (t) => {
  const line = ['peer-A', 'peer-B'];
  // A samples its rows from another stream: tokens the policy might give, not the ones the team's seed draws.
  const offSampler: MakeRows = async (rows) =>
    rows.map((r): Generation => ({ tokens: [r + 1000], logprobs: [-1], finishReason: 'eos' }));
  const { taken, refused, made } = await shareOnBoard(32, line, { 'peer-A': offSampler, 'peer-B': honest });
  t.deepEqual([...refused], ['peer-A']);
  t.true(made['peer-A'] > 0, 'A made its share');
  t.is(taken.size, rowChunks(32).length);
  t.true(
    [...taken.values()].every((m) => m === 'peer-B'),
    "every chunk the turn took is B's",
  );
});

test('a chunk that names other rows than its own is refused without being made again', async (t) => {
  const { taken, refused } = await shareOnBoard(
    32,
    ['peer-A', 'peer-B'],
    { 'peer-A': honest, 'peer-B': honest },
    'peer-A',
  );
  t.deepEqual([...refused], ['peer-A']);
  t.is(taken.size, rowChunks(32).length);
  t.true([...taken.values()].every((m) => m === 'peer-B'));
});
