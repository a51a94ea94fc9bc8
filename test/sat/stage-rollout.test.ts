// The stage's trajectories seen from one agent: where its tokens sit, and its per-turn log-probs
// written and read back in the learner's layout.
import test from 'ava';
import type { ChainTranscript, TranscriptLayout } from '../../node/tasks/chain.ts';
import {
  type Trajectory,
  ownIds,
  ownPositions,
  ownTokens,
  rowsOf,
  scoringGap,
  setOwnTokens,
} from '../../node/sat/stage-rollout.ts';

/** The plain layout, turns joined by id 9: one sequence every turn is read in. */
function plainLayout(t: ChainTranscript): TranscriptLayout {
  const ids = [...t.promptIds];
  const turns = t.turns.map((u, k) => {
    if (k > 0) ids.push(9);
    ids.push(...u.ids);
    return { sequence: 0, span: [ids.length - u.ids.length, ids.length] as [number, number] };
  });
  return { sequences: [ids], turns };
}

function trajectory(turns: [number, number[]][], layout = plainLayout): Trajectory {
  const transcript: ChainTranscript = {
    promptIds: [1, 2],
    turns: turns.map(([slot, ids]) => ({ slot, ids, logprobs: ids.map((id) => -id / 10) })),
  };
  const empty = () => transcript.turns.map(() => new Float32Array(0));
  return {
    transcript,
    reward: 1,
    group: 0,
    heldOut: false,
    layout: layout(transcript),
    logpCur: empty(),
    values: empty(),
    logpNew: transcript.turns.map(() => undefined),
  };
}

// ids: 1 2 | 3 4 0 | 9 | 5 0 | 9 | 6 7 0
const chain = () =>
  trajectory([
    [0, [3, 4, 0]],
    [1, [5, 0]],
    [0, [6, 7, 0]],
  ]);

test("a slot's tokens are its turns' positions in the laid-out ids, its turns in order, up to its last", (t) => {
  const row = chain();
  t.deepEqual(ownIds(row, 0), [1, 2, 3, 4, 0, 9, 5, 0, 9, 6, 7, 0]);
  // The model is causal: a slot's row ends with its last token.
  t.deepEqual(ownIds(row, 1), [1, 2, 3, 4, 0, 9, 5, 0]);
  t.deepEqual(ownPositions(row, 0), [2, 3, 4, 9, 10, 11]);
  t.deepEqual(ownPositions(row, 1), [6, 7]);
  t.deepEqual(ownPositions(row, 2), []);
});

test("with a sequence per turn (chat turns) a slot is read in its turn's; two turns of one slot in two are refused", (t) => {
  // Each turn read after a context of its own: [context 7 8 (and the earlier turn's 5)] + its ids.
  const perTurn = (tr: ChainTranscript): TranscriptLayout => {
    const sequences = tr.turns.map((u, k) => [7, 8, ...tr.turns.slice(0, k).flatMap((v) => v.ids), ...u.ids]);
    return {
      sequences,
      turns: tr.turns.map((u, k) => ({ sequence: k, span: [sequences[k].length - u.ids.length, sequences[k].length] })),
    };
  };
  const row = trajectory(
    [
      [1, [5, 0]],
      [0, [6, 0]],
    ],
    perTurn,
  );
  t.deepEqual(ownIds(row, 1), [7, 8, 5, 0]);
  t.deepEqual(ownPositions(row, 1), [2, 3]);
  t.deepEqual(ownIds(row, 0), [7, 8, 5, 0, 6, 0]);
  t.deepEqual(ownPositions(row, 0), [4, 5]);
  const twice = trajectory(
    [
      [0, [5, 0]],
      [0, [6, 0]],
    ],
    perTurn,
  );
  t.throws(() => ownIds(twice, 0), { message: /not read in one sequence/ });
  t.throws(() => ownIds(row, 2), { message: /took no turn/ });
});

test("log-probs written in a slot's layout land on its turns and read back alike; other turns keep theirs", (t) => {
  const rows = [chain(), chain()];
  setOwnTokens(rows, 0, [Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(7, 8, 9, 10, 11, 12)], 'logpCur');
  t.deepEqual([...rows[1].logpCur[0]], [7, 8, 9]);
  t.deepEqual([...rows[1].logpCur[2]], [10, 11, 12]);
  t.is(rows[1].logpCur[1].length, 0, "slot 1's turn is not slot 0's to write");
  t.deepEqual([...ownTokens(rows[0], 0, 'logpCur')], [1, 2, 3, 4, 5, 6]);
  t.deepEqual([...ownTokens(rows[0], 0, 'values')], []);
});

test('a slot speaks in the rows where it took a turn, and its gap is against teacher forcing', (t) => {
  const rows = [chain(), trajectory([[1, [5, 0]]])];
  t.deepEqual(rowsOf(rows, 0), [rows[0]]);
  t.deepEqual(rowsOf(rows, 1), rows);
  const sampled = rows.map((r) =>
    Float32Array.from(r.transcript.turns.flatMap((u) => (u.slot === 1 ? u.logprobs : []))),
  );
  setOwnTokens(rowsOf(rows, 1), 1, sampled, 'logpCur');
  t.is(scoringGap(rowsOf(rows, 1), 1), 0);
  rows[1].logpCur[0][1] += 0.25;
  t.is(scoringGap(rowsOf(rows, 1), 1), 0.25);
});
