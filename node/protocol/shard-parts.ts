// A rollout too large for one TrajectoryShard (MAX_BYTES.TrajectoryShard, LIMITS.trajectories)
// travels as several: its trajectories in order, cut into parts (`part` of `parts`). A receiver uses
// the rollout once every part is here, as if it had come whole.
import type { CID } from 'multiformats/cid';
import { LIMITS, MAX_BYTES } from './limits.ts';
import type { Trajectory, TrajectoryShard } from './messages.generated.ts';

/** Room in a part's byte budget for the shard's own fields (version, team id, stage, rollout name, part numbers). */
const HEADER_BYTES = 1024;

export class ShardTooLargeError extends Error {
  override name = 'ShardTooLargeError';
}

const varintBytes = (x: number) => (x < 2 ** 7 ? 1 : x < 2 ** 14 ? 2 : x < 2 ** 21 ? 3 : x < 2 ** 28 ? 4 : 5);
const idsBytes = (ids: readonly number[]) => ids.reduce((n, id) => n + 1 + varintBytes(id), 0);

/**
 * At least the bytes a trajectory takes in an encoded shard: each id a tag and a varint, each log-prob a tag and a
 * float, and the fields' tags and lengths.
 */
export function trajectoryBytes(t: Trajectory): number {
  let n = 40 + idsBytes(t.ids); // its tag and length, prompt, group, reward
  for (const u of t.turns) n += 16 + idsBytes(u.ids) + 5 * u.logprobs.length;
  return n;
}

/**
 * The shards of one rollout: its trajectories in order, a new part begun where the next trajectory
 * would take the part past `maxBytes` or LIMITS.trajectories. One part when it fits.
 */
export function splitShard(
  whole: Omit<TrajectoryShard, 'part' | 'parts'>,
  maxBytes: number = MAX_BYTES.TrajectoryShard,
): TrajectoryShard[] {
  const cuts: Trajectory[][] = [];
  let bytes = 0;
  for (const t of whole.trajectories) {
    const b = trajectoryBytes(t);
    if (HEADER_BYTES + b > maxBytes)
      throw new ShardTooLargeError(
        `a trajectory of ${whole.rollout} takes ${b} bytes, more than the ${maxBytes - HEADER_BYTES} a shard ` +
          `holds: shorten max_response_length or the prompts`,
      );
    if (cuts.length === 0 || bytes + b > maxBytes || cuts.at(-1)!.length === LIMITS.trajectories) {
      cuts.push([]);
      bytes = HEADER_BYTES;
    }
    cuts.at(-1)!.push(t);
    bytes += b;
  }
  if (cuts.length > LIMITS.shards)
    throw new ShardTooLargeError(
      `rollout ${whole.rollout} needs ${cuts.length} shards, over the ${LIMITS.shards} a rollout may have: use ` +
        `fewer trajectories per stage`,
    );
  if (cuts.length === 0) cuts.push([]); // no trajectories: one (invalid) part, which the codec rejects by name
  return cuts.map((trajectories, part) => ({ ...whole, trajectories, part, parts: cuts.length }));
}

interface Part {
  shard: TrajectoryShard;
  cid: CID;
}

/** A rollout made whole: its parts' trajectories in order, and the parts' CIDs in that order. */
export interface WholeShard {
  shard: TrajectoryShard;
  cids: CID[];
}

/** The parts of rollouts as they arrive, by stage, rollout and turns held. */
export class ShardParts {
  private readonly pending = new Map<string, { stage: number; got: Map<number, Part>; parts: number }>();

  /**
   * Takes one part; gives the rollout whole once its last part comes. A part whose count of parts
   * disagrees with the first part seen, or that repeats a part's index, is ignored.
   */
  add(shard: TrajectoryShard, cid: CID): WholeShard | undefined {
    if (shard.parts === 1) return { shard, cids: [cid] };
    const turns = Math.min(...shard.trajectories.map((t) => t.turns.length));
    const key = `${shard.stage}/${shard.rollout}#${turns}`;
    const entry = this.pending.get(key) ?? { stage: shard.stage, got: new Map<number, Part>(), parts: shard.parts };
    this.pending.set(key, entry);
    if (entry.parts !== shard.parts || entry.got.has(shard.part)) return undefined;
    entry.got.set(shard.part, { shard, cid });
    if (entry.got.size < entry.parts) return undefined;
    this.pending.delete(key);
    const parts = [...entry.got.entries()].sort(([a], [b]) => a - b).map(([, p]) => p);
    return {
      shard: { ...parts[0].shard, part: 0, parts: 1, trajectories: parts.flatMap((p) => p.shard.trajectories) },
      cids: parts.map((p) => p.cid),
    };
  }

  /** Forgets the parts of stages before `stage`. */
  dropBefore(stage: number): void {
    for (const [key, e] of this.pending) if (e.stage < stage) this.pending.delete(key);
  }
}
