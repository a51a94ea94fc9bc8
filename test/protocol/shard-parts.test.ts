import test from 'ava';
import { contentId } from '../../node/protocol/cid.ts';
import {
  LIMITS,
  MAX_BYTES,
  type Trajectory,
  type TrajectoryShard,
  decodeTrajectoryShard,
  encodeTrajectoryShard,
} from '../../node/protocol/codec.ts';
import { ShardParts, ShardTooLargeError, splitShard, trajectoryBytes } from '../../node/protocol/shard-parts.ts';

const TEAM = contentId(new TextEncoder().encode('a shard-parts team')).toString();

/** A two-turn trajectory: `prompt` tokens, then `answer` tokens per turn, ids spread over a Qwen3-sized vocabulary. */
function trajectory(r: number, prompt: number, answer: number): Trajectory {
  const ids = (n: number, salt: number) =>
    Array.from({ length: n }, (_, i) => (r * 7919 + i * 104_729 + salt) % 151_936);
  const turn = (slot: number) => ({
    slot,
    ids: ids(answer, slot + 1),
    logprobs: ids(answer, slot).map((x) => Math.fround(-x / 151_936)),
  });
  return { prompt: r, group: r % 8, ids: ids(prompt, 0), turns: [turn(0), turn(1)], reward: r % 2 };
}

const whole = (trajectories: Trajectory[]) => ({
  version: 5,
  team: TEAM,
  stage: 2,
  rollout: 'train/0',
  trajectories,
  chunk: 0,
  chunks: 0,
});

test("trajectoryBytes bounds a trajectory's encoded bytes from above, for small and large token ids", (t) => {
  const bytes = (ts: Trajectory[]) => encodeTrajectoryShard({ ...whole(ts), part: 0, parts: 1 }).byteLength;
  const base = trajectory(0, 1, 1);
  for (const [prompt, answer] of [
    [3, 1],
    [40, 200],
    [600, 1024],
  ]) {
    const tr = trajectory(5, prompt, answer);
    const encoded = bytes([base, tr]) - bytes([base]);
    t.true(trajectoryBytes(tr) >= encoded, `${prompt} + 2 x ${answer} tokens: ${trajectoryBytes(tr)} >= ${encoded}`);
    t.true(trajectoryBytes(tr) <= 1.3 * encoded + 50, 'and not far above it');
  }
});

test(
  'a stage of 512 trajectories of 2 x 1024 tokens goes as several shards, ' +
    "each within the protocol's limit, that join back in order",
  (t) => {
    const trajectories = Array.from({ length: 512 }, (_, r) => trajectory(r, 200, 1024));
    const parts = splitShard(whole(trajectories));
    t.true(parts.length >= 3, `${parts.length} parts`);
    const joined = new ShardParts();
    let made: ReturnType<ShardParts['add']>;
    // Parts arrive in any order; the rollout is whole only once the last one is here.
    for (const i of [...parts.keys()].reverse()) {
      const bytes = encodeTrajectoryShard(parts[i]);
      t.true(bytes.byteLength <= MAX_BYTES.TrajectoryShard);
      const d = decodeTrajectoryShard(bytes);
      if (!d.ok) return t.fail(d.reason);
      t.deepEqual([d.message.part, d.message.parts], [i, parts.length]);
      t.is(made, undefined);
      made = joined.add(d.message, contentId(bytes));
    }
    t.is(made?.shard.trajectories.length, 512);
    t.deepEqual(
      made?.shard.trajectories.map((x) => x.prompt),
      trajectories.map((x) => x.prompt),
    );
    t.deepEqual(made?.shard.trajectories[300].turns[1].ids, trajectories[300].turns[1].ids);
    t.deepEqual(
      made?.cids.map(String),
      parts.map((p) => contentId(encodeTrajectoryShard(p)).toString()),
      "the parts' CIDs in part order",
    );
    t.deepEqual([made?.shard.part, made?.shard.parts], [0, 1]);
  },
);

test('a rollout that fits is one shard; more trajectories than a shard may list are cut by count', (t) => {
  const small = splitShard(whole([trajectory(0, 3, 2), trajectory(1, 3, 2)]));
  t.deepEqual(
    small.map((p) => [p.part, p.parts, p.trajectories.length]),
    [[0, 1, 2]],
  );
  const many = splitShard(whole(Array.from({ length: LIMITS.trajectories + 10 }, (_, r) => trajectory(r, 2, 1))));
  t.deepEqual(
    many.map((p) => p.trajectories.length),
    [LIMITS.trajectories, 10],
  );
  many.forEach((p) => t.notThrows(() => encodeTrajectoryShard(p)));
});

test("a single trajectory over a shard's bytes is refused by name", (t) => {
  const err = t.throws(() => splitShard(whole([trajectory(0, 10, 1), trajectory(1, 10, 400)]), 2_000), {
    instanceOf: ShardTooLargeError,
  });
  t.regex(err!.message, /trajectory of train\/0 takes \d+ bytes, more than the 976 a shard holds/);
});

test('parts that disagree on their count, or repeat an index, are ignored; old stages are dropped', (t) => {
  const parts = splitShard(whole([trajectory(0, 10, 50), trajectory(1, 10, 50), trajectory(2, 10, 50)]), 2_600);
  t.is(parts.length, 3);
  const cid = (p: TrajectoryShard) => contentId(encodeTrajectoryShard(p));
  const joined = new ShardParts();
  t.is(joined.add(parts[0], cid(parts[0])), undefined);
  t.is(joined.add({ ...parts[1], parts: 2 }, cid(parts[1])), undefined, 'another count of parts');
  t.is(joined.add({ ...parts[0], trajectories: parts[1].trajectories }, cid(parts[1])), undefined, 'part 0 again');
  t.is(joined.add(parts[1], cid(parts[1])), undefined);
  joined.dropBefore(3);
  t.is(joined.add(parts[2], cid(parts[2])), undefined, "the stage's earlier parts were dropped");
  t.is(joined.add(parts[0], cid(parts[0])), undefined);
  t.deepEqual(
    joined.add(parts[1], cid(parts[1]))?.shard.trajectories.map((x) => x.prompt),
    [0, 1, 2],
  );
});

test("a shared turn's chunks, each from whichever peer made it, join in chunk order; a sender's parts are not mixed", (t) => {
  const rows = [0, 1, 2, 3].map((r) => trajectory(r, 10, 50));
  const chunk = (c: number, maxBytes = 4_000) =>
    splitShard({ ...whole(rows.slice(2 * c, 2 * c + 2)), chunk: c, chunks: 2 }, maxBytes);
  const cid = (p: TrajectoryShard) => contentId(encodeTrajectoryShard(p));
  const joined = new ShardParts();
  const [late] = chunk(1);
  t.is(joined.add(late, cid(late), 'B'), undefined);
  t.true(joined.hasChunk(2, 'train/0', 2, 1));
  t.false(joined.hasChunk(2, 'train/0', 2, 0));
  // Chunk 0 in two parts: A sends part 0 only, C sends part 1 only; neither completes it.
  const split = chunk(0, 2_600);
  t.is(split.length, 2);
  t.is(joined.add(split[0], cid(split[0]), 'A'), undefined);
  t.is(joined.add(split[1], cid(split[1]), 'C'), undefined, "C's part does not complete A's chunk");
  t.false(joined.hasChunk(2, 'train/0', 2, 0));
  t.is(joined.add({ ...late, chunks: 3 }, cid(late), 'A'), undefined, 'another count of chunks');
  const done = joined.add(split[1], cid(split[1]), 'A');
  t.deepEqual(
    done?.shard.trajectories.map((x) => x.prompt),
    [0, 1, 2, 3],
  );
  t.like(done?.shard, { chunk: 0, chunks: 0, part: 0, parts: 1 });
  t.deepEqual(done?.cids, [cid(split[0]), cid(split[1]), cid(late)]);
});
