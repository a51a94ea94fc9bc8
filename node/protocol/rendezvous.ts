// Rendezvous (highest-random-weight) hashing: every peer ranks the same candidates for the same key alike,
// without talking, and a candidate that leaves moves only the keys it ranked first (docs/design §4.17).
import { createHash } from 'node:crypto';

/** `candidates` ranked for `key`: by SHA-256(key | candidate), highest first; ties (none in practice) by name. */
export function rendezvous(key: string, candidates: readonly string[]): string[] {
  const weight = (c: string) => createHash('sha256').update(`${key}\n${c}`).digest('hex');
  const weights = new Map(candidates.map((c) => [c, weight(c)]));
  return [...weights.keys()].sort((a, b) => {
    const [x, y] = [weights.get(a)!, weights.get(b)!];
    return x === y ? (a < b ? -1 : 1) : x < y ? 1 : -1;
  });
}
