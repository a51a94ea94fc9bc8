// A turn shared among the peers that hold its slot's agent, its trainer and its replicas (docs/design §4.17): the
// turn's rows are cut into chunks, each chunk falls to one peer of the slot's line by rendezvous hashing over the
// stage's seed, and a chunk still missing after a deadline falls to the next peer of its ranking. Each row samples from
// its own seeded stream, so a turn's tokens do not depend on who made them, and another peer of the line can check
// them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Generation } from '../agent/model/generate.ts';
import { rendezvous } from '../protocol/rendezvous.ts';
import { RESCORE_TOLERANCE } from '../sat/replica-check.ts';
import type { ChainTranscript, MakeRows } from '../tasks/chain.ts';
import { range } from '../util/arrays.ts';

/** Chunks a shared turn's rows are cut into (as many as rows, with fewer). */
export const ROW_CHUNKS = 16;

/** The chunks of a turn of `rows` rows: contiguous, in order, as even as they come. */
export function rowChunks(rows: number): number[][] {
  const n = Math.min(rows, ROW_CHUNKS);
  return range(0, n).map((c) => range(Math.floor((c * rows) / n), Math.floor(((c + 1) * rows) / n)));
}

/** How often a peer looks again for chunks to make or to check while its turn is not whole. */
const TICK_MS = 200;

/** A chunk of the turn made by another peer, held until a peer of the line other than its maker checks it. */
export interface HeldChunk {
  /** The CID of the part held (a chunk comes in one part unless it is large). */
  cid: string;
  chunk: number;
  maker: string;
  /** When it arrived here. */
  since: number;
  /** The turn's rows it holds, and their transcripts up to and including the turn. */
  rows: number[];
  transcripts: ChainTranscript[];
}

/** What one peer needs to make and check its share of a turn. */
export interface TurnShare {
  /** Names the turn among all: the stage's seed, the rollout and the turn. */
  key: string;
  rows: number;
  /** The slot's line (its trainer, then its replicas), by peer id, as this peer sees it; and this peer's id. */
  line: readonly string[];
  me: string;
  deadlineMs: number;
  /** Makes this peer's chunks. */
  make: MakeRows;
  /** Makes rows again, as the seeded sampler does, to check another peer's (default `make`). */
  again?: MakeRows;
  /** Per transcript, the largest |sampling - teacher-forced log-prob| over the turn's tokens, scored here. */
  rescore?: (transcripts: readonly ChainTranscript[]) => Promise<number[]>;
  /** Whether chunk `chunk` is here, whole or held for its check, from a maker not refused. */
  arrived(chunk: number): boolean;
  /** Whether `peer` made a chunk that did not hold up: it is asked for none. */
  excluded(peer: string): boolean;
  /** The turn's chunks held here for a check. */
  held(): HeldChunk[];
  /** Publishes chunk `chunk` of `chunks`: its `rows`, made. */
  publish(chunk: number, chunks: number, rows: readonly number[], made: readonly Generation[]): Promise<void>;
  /** Says whether a held chunk holds up: `why` not, or none. */
  attest(h: HeldChunk, why: string | undefined): Promise<void>;
  /** Settles once the whole turn is here. */
  whole: Promise<unknown>;
  /** Whether the stage went on without the turn (this peer left it): the share ends. */
  over?: () => boolean;
}

/**
 * Makes and checks this peer's share of a turn until the turn is whole. A chunk falls to the peers of its
 * ranking (those that made no chunk that failed) in order: the first makes it at once, the k-th once k deadlines
 * passed without it. A chunk another peer made is checked alike by the others in its ranking, counted from its
 * arrival: its rows re-scored, and made again, which must give their tokens. A deadline is at least
 * twice what this peer's first share took. Gives the chunks made.
 */
export async function takeShare(s: TurnShare): Promise<number> {
  let done = false;
  const over = new AbortController(); // cuts a wait short once the turn is whole
  const end = () => {
    done = true;
    over.abort();
  };
  s.whole.then(end, end);
  const chunks = rowChunks(s.rows);
  const ranks = chunks.map((_, c) => rendezvous(`${s.key}/${c}`, s.line));
  const t0 = Date.now();
  let wait = s.deadlineMs;
  const made = new Set<number>();
  const checked = new Set<string>();
  /** Whether this peer's turn has come in `order`: first, or k-th once k waits passed `since`. */
  const due = (order: readonly string[], since: number) => {
    const k = order.indexOf(s.me);
    return k >= 0 && Date.now() - since >= k * wait;
  };
  while (!done && !s.over?.()) {
    const mine = range(0, chunks.length).filter(
      (c) =>
        !made.has(c) &&
        !s.arrived(c) &&
        due(
          ranks[c].filter((p) => !s.excluded(p)),
          t0,
        ),
    );
    if (mine.length) {
      const started = Date.now();
      const out = await s.make(mine.flatMap((c) => chunks[c]));
      if (made.size === 0) wait = Math.max(wait, 2 * (Date.now() - started));
      let at = 0;
      for (const c of mine) {
        made.add(c);
        if (!done) await s.publish(c, chunks.length, chunks[c], out.slice(at, (at += chunks[c].length)));
      }
    }
    const toCheck = s.held().filter(
      (h) =>
        h.maker !== s.me &&
        !checked.has(h.cid) &&
        due(
          (ranks[h.chunk] ?? s.line).filter((p) => p !== h.maker && !s.excluded(p)),
          h.since,
        ),
    );
    if (toCheck.length && s.rescore && !done) await checkChunks(s, toCheck, checked);
    if (!mine.length && !toCheck.length)
      await sleep(TICK_MS, undefined, { signal: over.signal }).catch(() => undefined);
  }
  return made.size;
}

/**
 * Checks chunks others made (takeShare), all at once: each row's log-probs re-scored by teacher forcing, and each row
 * made again from its seeded stream, which must give its tokens. Says what this peer found of each.
 */
async function checkChunks(s: TurnShare, all: readonly HeldChunk[], checked: Set<string>): Promise<void> {
  // A part holds a run of its chunk's rows (a maker names them): one that does not is refused unchecked.
  const chunks = rowChunks(s.rows);
  const ownRows = (h: HeldChunk) => {
    const rows = chunks[h.chunk] ?? [];
    const at = rows.indexOf(h.rows[0]);
    return at >= 0 && h.rows.every((r, i) => rows[at + i] === r);
  };
  const [held, misnamed] = [true, false].map((ok) => all.filter((h) => ownRows(h) === ok));
  for (const h of misnamed) {
    checked.add(h.cid);
    await s.attest(
      h,
      `it holds rows ${h.rows.join(', ')} as chunk ${h.chunk} of ${chunks.length}, not a run of its own`,
    );
  }
  if (!held.length) return;
  const transcripts = held.flatMap((h) => h.transcripts);
  const rows = held.flatMap((h) => h.rows);
  const gaps = await s.rescore!(transcripts);
  const again = await (s.again ?? s.make)(rows);
  const whyNot = (i: number): string | undefined => {
    if (!(gaps[i] <= RESCORE_TOLERANCE))
      return `row ${rows[i]}'s log-probs are up to ${gaps[i].toExponential(1)} from what its weights give`;
    const [theirs, ours] = [transcripts[i].turns.at(-1)!.ids, again[i].tokens];
    const j = range(0, Math.max(theirs.length, ours.length)).find((k) => theirs[k] !== ours[k]);
    return j === undefined
      ? undefined
      : `row ${rows[i]}'s tokens are not the seeded sampler's: token ${j} is ${theirs[j] ?? 'missing'}, the sampler's ` +
          `${ours[j] ?? 'none'}`;
  };
  let at = 0;
  for (const h of held) {
    const found = range(at, (at += h.rows.length)).map(whyNot);
    checked.add(h.cid);
    await s.attest(
      h,
      found.find((why) => why !== undefined),
    );
  }
}
