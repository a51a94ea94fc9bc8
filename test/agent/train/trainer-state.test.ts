// The trainer's state without a model: tensors grouped for AdamW, lending to a worker and taking the buffers back,
// snapshots that refuse another layout, and interpolation between two snapshots.
import test from 'ava';
import { InputError } from '../../../node/agent/errors.ts';
import type { HostTensor } from '../../../node/gpu/ort.ts';
import {
  adopt,
  advance,
  initialState,
  interpolate,
  lentGroups,
  lentParams,
  restore,
  snapshot,
  views,
} from '../../../node/agent/train/trainer-state.ts';

const tensors = (matrix: string) =>
  new Map([
    [matrix, { shape: [2, 2], read: () => Float32Array.of(1, 2, 3, 4) }],
    ['norm.weight', { shape: [2], read: () => Float32Array.of(5, 6) }],
  ]);

/** What a session worker does to lent buffers: moves them away (here left detached) and returns them as new arrays. */
function lendAway(lent: Record<string, HostTensor>): void {
  for (const t of Object.values(lent)) {
    const buffer = t.data.buffer as ArrayBuffer;
    if (buffer.byteLength > 0) structuredClone(buffer, { transfer: [buffer] });
  }
}

test('the tensors are grouped by dimension, decaying matrices first, each a view of its group', (t) => {
  const state = initialState(tensors('w'));
  t.deepEqual(
    state.groups.map((g) => [g.name, g.size]),
    [
      ['decay', 4],
      ['no_decay', 2],
    ],
  );
  t.is(state.layout, 'decay: w [2, 2]; no_decay: norm.weight [2]');
  t.deepEqual(
    [...views(state, 'params')].map(([n, v]) => [n, [...v]]),
    [
      ['w', [1, 2, 3, 4]],
      ['norm.weight', [5, 6]],
    ],
  );
  t.deepEqual([...views(state, 'm').get('w')!], [0, 0, 0, 0]);
  t.deepEqual(Object.keys(lentParams(state)), ['w', 'norm.weight']);
  t.true(Object.values(lentParams(state)).every((x) => x.lend));
});

test('while a step holds the buffers elsewhere the tensors are unreadable; adopt takes them back', (t) => {
  const state = initialState(tensors('w'));
  const { feeds, into } = lentGroups(state);
  const kept = Object.fromEntries(Object.entries({ ...feeds, ...into }).map(([n, x]) => [n, x.data.slice()]));
  lendAway(feeds);
  lendAway(into);
  t.throws(() => views(state, 'params'), { message: /^the trainer's tensors are not on this thread/ });
  for (const [n, x] of Object.entries({ ...feeds, ...into })) x.data = Float32Array.from(kept[n] as Float32Array);
  into['new_params.decay'].data = Float32Array.of(9, 9, 9, 9);
  adopt(state, feeds, into);
  t.deepEqual([...views(state, 'params').get('w')!], [1, 2, 3, 4]);
  const version = state.version;
  advance(state, 1);
  t.deepEqual([...views(state, 'params').get('w')!], [9, 9, 9, 9], 'the step output takes over');
  t.is(state.step, 1);
  t.is(state.version, version + 1);
});

test('interpolate moves the parameters part of the way and keeps the moments and step of the first snapshot', (t) => {
  const state = initialState(tensors('w'));
  const from = snapshot(state);
  views(state, 'params').get('w')!.set([3, 4, 5, 6]);
  views(state, 'm').get('w')!.fill(7);
  state.step = 4;
  const to = snapshot(state);
  const version = state.version;
  interpolate(state, from, to, 0.5);
  t.deepEqual([...views(state, 'params').get('w')!], [2, 3, 4, 5]);
  t.deepEqual([...views(state, 'm').get('w')!], [0, 0, 0, 0]);
  t.is(state.step, 0);
  t.true(state.version > version, 'the session worker sees new parameters');
  restore(state, to);
  t.deepEqual([...views(state, 'params').get('w')!], [3, 4, 5, 6], 'a snapshot stays valid after a restore');
});

test('restore refuses a snapshot of other tensors of the same sizes', (t) => {
  const state = initialState(tensors('w'));
  t.throws(() => restore(state, snapshot(initialState(tensors('v')))), {
    instanceOf: InputError,
    message: /^this snapshot was taken from a trainer of other trainable tensors/,
  });
});
