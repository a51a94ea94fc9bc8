// Counters keyed by what remote peers send (a reason, a peer id, a protocol id): bounded, so a flood of new
// keys cannot grow memory without end.

/** A counter map holds at most this many keys; later keys count under 'other'. */
export const MAX_COUNTER_KEYS = 1024;

/** Adds `n` (default one) to `key` in a counter map that never holds more than MAX_COUNTER_KEYS keys. */
export function bump(map: Map<string, number>, key: string, n = 1): void {
  const k = map.has(key) || map.size < MAX_COUNTER_KEYS - 1 ? key : 'other';
  map.set(k, (map.get(k) ?? 0) + n);
}
