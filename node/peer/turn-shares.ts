// A turn shared among the peers that hold its slot's agent, its trainer and its replicas (docs/design §4.17): the
// turn's rows are cut into chunks, each chunk falls to one peer of the slot's line by rendezvous hashing over the
// stage's seed, and a chunk still missing after a deadline falls to the next peer of its ranking. Each row samples from
// its own seeded stream, so a turn's tokens do not depend on who made them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Generation } from '../agent/model/generate.ts';
import { rendezvous } from '../protocol/rendezvous.ts';
import type { MakeRows } from '../tasks/chain.ts';
import { range } from '../util/arrays.ts';

/** Chunks a shared turn's rows are cut into (as many as rows, with fewer). */
export const ROW_CHUNKS = 16;

/** The chunks of a turn of `rows` rows: contiguous, in order, as even as they come. */
export function rowChunks(rows: number): number[][] {
  const n = Math.min(rows, ROW_CHUNKS);
  return range(0, n).map((c) => range(Math.floor((c * rows) / n), Math.floor(((c + 1) * rows) / n)));
}

/** What one peer needs to make its share of a turn. */
export interface TurnShare {
  /** Names the turn among all: the stage's seed, the rollout and the turn. */
  key: string;
  rows: number;
  /** The slot's line (its trainer, then its replicas), by peer id, as this peer sees it; and this peer's id. */
  line: readonly string[];
  me: string;
  deadlineMs: number;
  make: MakeRows;
  /** Whether chunk `chunk` has come whole (from whichever peer made it). */
  arrived(chunk: number): boolean;
  /** Publishes chunk `chunk` of `chunks`: its `rows`, made. */
  publish(chunk: number, chunks: number, rows: readonly number[], made: readonly Generation[]): Promise<void>;
  /** Settles once the whole turn is here. */
  whole: Promise<unknown>;
}

/**
 * Makes this peer's share of a turn: at once the chunks that rank it first, and after k deadlines each chunk still
 * missing that ranks it k-th. A deadline is at least twice what this peer's first share took. Gives the chunks made.
 */
export async function makeShare(s: TurnShare): Promise<number> {
  let done = false;
  const over = new AbortController(); // cuts a takeover's wait short once the turn is whole
  const end = () => {
    done = true;
    over.abort();
  };
  s.whole.then(end, end);
  const chunks = rowChunks(s.rows);
  const ranks = chunks.map((_, c) => rendezvous(`${s.key}/${c}`, s.line));
  let wait = s.deadlineMs;
  let made = 0;
  for (let k = 0; k < s.line.length && !done; k++) {
    if (k > 0) await sleep(wait, undefined, { signal: over.signal }).catch(() => undefined);
    const mine = range(0, chunks.length).filter((c) => ranks[c][k] === s.me && !s.arrived(c));
    if (done || mine.length === 0) continue;
    const t0 = Date.now();
    const out = await s.make(mine.flatMap((c) => chunks[c]));
    if (k === 0) wait = Math.max(wait, 2 * (Date.now() - t0));
    let at = 0;
    for (const c of mine) {
      if (done) break;
      await s.publish(c, chunks.length, chunks[c], out.slice(at, (at += chunks[c].length)));
      made++;
    }
  }
  return made;
}
