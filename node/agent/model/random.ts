// Seeded uniform [0, 1) numbers (mulberry32): reproducible sampling and initialisation.
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One stream per row of a batch, row r's seeded by (seed, its index in the whole batch: `rows[r]`, r without them): a
 * batch taken in micro-batches, or a share of its rows taken on another peer, samples what it would taken at once.
 */
export function rowStreams(seed: number, count: number, rows?: readonly number[]): (() => number)[] {
  if (rows && rows.length !== count) throw new RangeError(`${rows.length} row indices for a batch of ${count}`);
  return Array.from({ length: count }, (_, r) =>
    rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((rows?.[r] ?? r) + 1, 0xc2b2ae35)),
  );
}
