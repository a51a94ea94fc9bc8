// Plain array helpers. Sums run left to right, one term at a time, so every peer of a team rounds alike.

/** The integers a, a + 1, ..., b - 1. */
export const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

/** The mean of `xs` (0 when empty). */
export const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

/** sum of value(x) / sum of weight(x) over xs (0 when the weights sum to 0). */
export function meanOver<T>(
  xs: readonly T[],
  value: (x: T, i: number) => number,
  weight: (x: T, i: number) => number,
): number {
  let v = 0;
  let w = 0;
  for (const [i, x] of xs.entries()) {
    v += value(x, i);
    w += weight(x, i);
  }
  return w > 0 ? v / w : 0;
}

/** The parts one after another. */
export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
