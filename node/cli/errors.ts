// Typed failures of the peer process; each message names what is wrong and what to do.

/** The command line is wrong: unknown command or option, missing or extra argument. */
export class UsageError extends Error {
  override name = 'UsageError';
}
