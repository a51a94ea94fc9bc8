// A rollout too large for one TrajectoryShard (MAX_BYTES.TrajectoryShard, LIMITS.trajectories)
// travels as several: its trajectories in order, cut into parts (`part` of `parts`). A turn shared among
// its slot's peers travels as chunks of rows (`chunk` of `chunks`), each cut into parts alike. A receiver
// uses the rollout once every part is here, as if it had come whole.
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
  whole: Omit<TrajectoryShard, 'part' | 'parts' | 'chunk' | 'chunks'> &
    Partial<Pick<TrajectoryShard, 'chunk' | 'chunks'>>,
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
  return cuts.map((trajectories, part) => ({ chunk: 0, chunks: 0, ...whole, trajectories, part, parts: cuts.length }));
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

/** One sender's parts of one chunk of rows. */
interface ChunkParts {
  parts: number;
  got: Map<number, Part>;
}

/** A rollout's turn as it arrives: its chunks of rows (one when the turn is not shared), each whole or by sender. */
interface Pending {
  stage: number;
  chunks: number;
  whole: Map<number, Part[]>;
  bySender: Map<string, ChunkParts>;
}

/**
 * The parts of rollouts as they arrive, by stage, rollout and turns held. A shared turn (docs/design §4.17) comes as
 * chunks of rows, each from whichever of its slot's peers made it: a chunk counts once all its parts from one sender
 * are here, the first such sender's.
 */
export class ShardParts {
  private readonly pending = new Map<string, Pending>();

  /**
   * Takes one part from `from`; gives the rollout whole once its last part comes. A part whose count of parts or
   * chunks disagrees with those seen, or that repeats a part's index, is ignored.
   */
  add(shard: TrajectoryShard, cid: CID, from = ''): WholeShard | undefined {
    const chunks = Math.max(1, shard.chunks);
    if (shard.parts === 1 && chunks === 1) return { shard, cids: [cid] };
    const key = keyOf(shard);
    const entry = this.pending.get(key) ?? { stage: shard.stage, chunks, whole: new Map(), bySender: new Map() };
    this.pending.set(key, entry);
    if (entry.chunks !== chunks || entry.whole.has(shard.chunk)) return undefined;
    const sender = `${shard.chunk}/${from}`;
    const mine = entry.bySender.get(sender) ?? { parts: shard.parts, got: new Map<number, Part>() };
    entry.bySender.set(sender, mine);
    if (mine.parts !== shard.parts || mine.got.has(shard.part)) return undefined;
    mine.got.set(shard.part, { shard, cid });
    if (mine.got.size < mine.parts) return undefined;
    entry.whole.set(
      shard.chunk,
      [...mine.got.entries()].sort(([a], [b]) => a - b).map(([, p]) => p),
    );
    if (entry.whole.size < entry.chunks) return undefined;
    this.pending.delete(key);
    const parts = [...entry.whole.entries()].sort(([a], [b]) => a - b).flatMap(([, p]) => p);
    return {
      shard: {
        ...parts[0].shard,
        part: 0,
        parts: 1,
        chunk: 0,
        chunks: 0,
        trajectories: parts.flatMap((p) => p.shard.trajectories),
      },
      cids: parts.map((p) => p.cid),
    };
  }

  /** Whether chunk `chunk` of `stage`'s rollout `rollout` at `turns` turns (a shared turn) is here whole. */
  hasChunk(stage: number, rollout: string, turns: number, chunk: number): boolean {
    return this.pending.get(`${stage}/${rollout}#${turns}`)?.whole.has(chunk) ?? false;
  }

  /** Forgets the parts of stages before `stage`. */
  dropBefore(stage: number): void {
    for (const [key, e] of this.pending) if (e.stage < stage) this.pending.delete(key);
  }
}

const keyOf = (shard: TrajectoryShard) =>
  `${shard.stage}/${shard.rollout}#${Math.min(...shard.trajectories.map((t) => t.turns.length))}`;
