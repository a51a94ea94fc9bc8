// When a message this peer gossiped is gossiped again (what a peer missed while its connection was down reaches it):
// at twice its age, so a stage's many messages cost few repeats each.

/** When a message made at `since` goes out again after going out at `now`: `now` plus its age, within [minMs, maxMs]. */
export const nextRepeat = (since: number, now: number, minMs: number, maxMs = Infinity): number =>
  now + Math.min(maxMs, Math.max(minMs, now - since));
