// Typed failures of the network layer; each message names what is wrong and what to do.

/** The peer's identity file is missing, unreadable, corrupt or exposed to other users. */
export class IdentityError extends Error {
  override name = 'IdentityError';
}

/** A host setting is unusable (a listen or announce address that is no multiaddr, a bad bootstrap entry). */
export class HostConfigError extends Error {
  override name = 'HostConfigError';
}

/** A block could not be fetched: the peer lacks it, sent other bytes, or did not answer in time. */
export class BlockFetchError extends Error {
  override name = 'BlockFetchError';
}

/** A local message that fails validation before it is sent (a bug of the caller, never remote input). */
export class MessageError extends Error {
  override name = 'MessageError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A slot claim this peer's own roster would drop (an upgrade the manifest forbids, another tokenizer). */
export class ClaimError extends Error {
  override name = 'ClaimError';
}

/** The chunk store's folder is unusable, or content asked of it is missing or corrupt on disk. */
export class ChunkStoreError extends Error {
  override name = 'ChunkStoreError';
}

/**
 * Content could not be fetched in full: `missing` chunks (or the manifest itself) no provider could supply. What
 * arrived stays in the store, so a later fetch resumes from there.
 */
export class ChunkFetchError extends Error {
  override name = 'ChunkFetchError';
  constructor(
    message: string,
    readonly missing: number,
  ) {
    super(message);
  }
}
