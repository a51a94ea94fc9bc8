// A trainer's state: each parameter group's flat parameters and AdamW moments (a second set receives a step's
// output), the step count, their lending to the session worker and back, and snapshots for backtracking.
import { type Shape, numel } from '../../gpu/graph.ts';
import { type GroupName, type ParamGroup, groupNames, paramGroups, tensorNames } from '../../gpu/adamw.ts';
import type { HostTensor } from '../../gpu/ort.ts';
import { InputError } from '../errors.ts';

/** One parameter group's flat buffers: parameters and the two AdamW moments. */
interface GroupState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}
type Buffers = Map<GroupName, GroupState>;

export interface TrainerState {
  readonly groups: readonly ParamGroup[];
  /** The trainable tensors' names, shapes and places, which a snapshot must share to be restored. */
  readonly layout: string;
  current: Buffers;
  /** Where a step writes the new parameters and moments; swapped with `current` when it ends. */
  spare: Buffers;
  step: number;
  /**
   * Changes whenever the parameters do: the session worker keeps them across runs for this version (HostTensor.pin).
   */
  version: number;
}

/** A deep copy of everything a step changes, for the learner's backtracking; `layout` names the trainable tensors. */
export interface TrainerSnapshot {
  step: number;
  layout: string;
  state: Buffers;
}

/** A state buffer fed or written by a step: on the session worker it is moved there and back, not copied. */
export const lent = (data: Float32Array, shape: Shape): HostTensor => ({ dtype: 'float32', shape, data, lend: true });

const emptyBuffers = (groups: readonly ParamGroup[]): Buffers =>
  new Map(
    groups.map((g) => [
      g.name,
      { params: new Float32Array(g.size), m: new Float32Array(g.size), v: new Float32Array(g.size) },
    ]),
  );
const cloneBuffers = (s: Buffers): Buffers =>
  new Map([...s].map(([k, x]) => [k, { params: x.params.slice(), m: x.m.slice(), v: x.v.slice() }]));

/** Step 0 from the trainable tensors' first values (zero moments), grouped for AdamW in their order. */
export function initialState(initial: ReadonlyMap<string, { shape: Shape; read(): Float32Array }>): TrainerState {
  const groups = paramGroups([...initial].map(([n, t]) => [n, t.shape]));
  const layout = groups
    .map((g) => `${g.name}: ${g.members.map((m) => `${m.name} [${m.shape.join(', ')}]`).join(', ')}`)
    .join('; ');
  const state = { groups, layout, current: emptyBuffers(groups), spare: emptyBuffers(groups), step: 0, version: 0 };
  for (const [name, view] of views(state, 'params')) view.set(initial.get(name)!.read());
  return state;
}

/** The trainable tensors' shapes by name, in the groups' order. */
export const shapesOf = (groups: readonly ParamGroup[]): Map<string, Shape> =>
  new Map(groups.flatMap((g) => g.members.map((m) => [m.name, m.shape] as const)));

/** Each trainable tensor as a view of its group's current `params`, `m` or `v` buffer. */
export function views(state: TrainerState, which: keyof GroupState): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const g of state.groups) {
    const buf = state.current.get(g.name)![which];
    if (buf.length !== g.size)
      throw new Error(
        "the trainer's tensors are not on this thread: a step holds them on the session worker (await it before " +
          'reading them), or the worker was lost during one',
      );
    for (const m of g.members) out.set(m.name, buf.subarray(m.offset, m.offset + numel(m.shape)));
  }
  return out;
}

/** Each trainable tensor, lent, under its own name: the inputs the model reads. */
export function lentParams(state: TrainerState): Record<string, HostTensor> {
  const shapes = shapesOf(state.groups);
  return Object.fromEntries([...views(state, 'params')].map(([name, view]) => [name, lent(view, shapes.get(name)!)]));
}

/**
 * An AdamW update's group inputs (`feeds`: the current flat parameters and moments) and outputs (`into`: the spare
 * ones), all lent.
 */
export function lentGroups(state: TrainerState): {
  feeds: Record<string, HostTensor>;
  into: Record<string, HostTensor>;
} {
  const feeds: Record<string, HostTensor> = {};
  const into: Record<string, HostTensor> = {};
  for (const g of state.groups) {
    const n = groupNames(g.name);
    const [cur, next] = [state.current.get(g.name)!, state.spare.get(g.name)!];
    Object.assign(feeds, {
      [n.params]: lent(cur.params, [g.size]),
      [n.m]: lent(cur.m, [g.size]),
      [n.v]: lent(cur.v, [g.size]),
    });
    Object.assign(into, {
      [n.newParams]: lent(next.params, [g.size]),
      [n.newM]: lent(next.m, [g.size]),
      [n.newV]: lent(next.v, [g.size]),
    });
  }
  return { feeds, into };
}

/**
 * A step's per-tensor AdamW inputs (`feeds`: views of the current moments) and outputs (`into`: views of the spare
 * parameters and moments), all lent.
 */
export function lentTensors(state: TrainerState): {
  feeds: Record<string, HostTensor>;
  into: Record<string, HostTensor>;
} {
  const feeds: Record<string, HostTensor> = {};
  const into: Record<string, HostTensor> = {};
  for (const g of state.groups) {
    const [cur, next] = [state.current.get(g.name)!, state.spare.get(g.name)!];
    for (const { name, shape, offset } of g.members) {
      const n = tensorNames(name);
      const view = (buf: Float32Array) => lent(buf.subarray(offset, offset + numel(shape)), shape);
      Object.assign(feeds, { [n.m]: view(cur.m), [n.v]: view(cur.v) });
      Object.assign(into, { [n.newParams]: view(next.params), [n.newM]: view(next.m), [n.newV]: view(next.v) });
    }
  }
  return { feeds, into };
}

/**
 * Takes the state buffers back from a run's feeds and outputs, where a session worker returns them
 * as new arrays over the same memory (lent: moved there and back); run here, they are the same.
 */
export function adopt(state: TrainerState, feeds: Record<string, HostTensor>, into: Record<string, HostTensor>): void {
  const whole = (t: HostTensor | undefined) => (t ? new Float32Array(t.data.buffer as ArrayBuffer) : undefined);
  for (const g of state.groups) {
    // Fed whole (the update from summed gradients) or through views of their first tensor (a step, a micro-batch).
    const n = groupNames(g.name);
    const t = tensorNames(g.members[0].name);
    const [cur, next] = [state.current.get(g.name)!, state.spare.get(g.name)!];
    cur.params = whole(feeds[n.params] ?? feeds[g.members[0].name]) ?? cur.params;
    cur.m = whole(feeds[n.m] ?? feeds[t.m]) ?? cur.m;
    cur.v = whole(feeds[n.v] ?? feeds[t.v]) ?? cur.v;
    next.params = whole(into[n.newParams] ?? into[t.newParams]) ?? next.params;
    next.m = whole(into[n.newM] ?? into[t.newM]) ?? next.m;
    next.v = whole(into[n.newV] ?? into[t.newV]) ?? next.v;
  }
}

/** Step `t`'s new parameters and moments take over. */
export function advance(state: TrainerState, t: number): void {
  [state.current, state.spare] = [state.spare, state.current];
  state.step = t;
  state.version++;
}

export function snapshot(state: TrainerState): TrainerSnapshot {
  return { step: state.step, layout: state.layout, state: cloneBuffers(state.current) };
}

/**
 * Copies a snapshot back in (it stays valid for further restores); refuses one taken from a trainer of other
 * trainable tensors.
 */
export function restore(state: TrainerState, snap: TrainerSnapshot): void {
  checkLayout(state, snap);
  for (const [name, s] of snap.state) {
    const cur = state.current.get(name)!;
    cur.params.set(s.params);
    cur.m.set(s.m);
    cur.v.set(s.v);
  }
  state.step = snap.step;
  state.version++;
}

function checkLayout(state: TrainerState, snap: TrainerSnapshot): void {
  if (snap.layout !== state.layout) {
    throw new InputError(
      'this snapshot was taken from a trainer of other trainable tensors (full vs LoRA, other targets or rank); ' +
        'restore it into the trainer that took it or one with the same trainable set',
    );
  }
}

/**
 * A step part of the way from one snapshot to a later one, for a backtracking line search:
 * parameters from + f (to - from), optimizer moments and step as in `from`; the tensors `moves` leaves out stay as
 * in `from`.
 */
export function interpolate(
  state: TrainerState,
  from: TrainerSnapshot,
  to: TrainerSnapshot,
  f: number,
  moves: (name: string) => boolean = () => true,
): void {
  restore(state, from);
  checkLayout(state, to);
  for (const [name, s] of to.state) {
    if (!moves(name)) continue;
    const cur = state.current.get(name)!.params;
    for (let i = 0; i < cur.length; i++) cur[i] += f * (s.params[i] - cur[i]);
  }
  state.version++;
}
