// A peer id shortened for people to read, alike wherever one is printed (the roster of the status page and
// `sat-peer status`, the bootstrap's log).

/** How many characters a shortened id takes at most. */
export const SHORT_ID_CHARS = 15;

/** `12D3KooW…x7Fq2a`: enough of a peer id to tell peers apart in a log or a roster. */
export const shortId = (id: string): string => (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id);
