// Typed failures of the network layer; each message names what is wrong and what to do.

/** The peer's identity file is missing, unreadable, corrupt or exposed to other users. */
export class IdentityError extends Error {
  override name = 'IdentityError';
}

/** A host setting is unusable (a listen or announce address that is no multiaddr, a bad bootstrap entry). */
export class HostConfigError extends Error {
  override name = 'HostConfigError';
}
