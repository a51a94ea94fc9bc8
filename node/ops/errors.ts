// Typed failures of the operator's view; each message names what is wrong and what to do.

/** An `--http` address that is malformed, or one that cannot be listened on. */
export class HttpAddressError extends Error {
  override name = 'HttpAddressError';
}

/** No status page answers at the given address, or what answers is not one. */
export class StatusUnreachableError extends Error {
  override name = 'StatusUnreachableError';
}
