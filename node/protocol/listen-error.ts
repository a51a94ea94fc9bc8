// A host that cannot listen where it was told (a port in use, an address of no interface here): one line
// naming the address and what to do, in place of libp2p's multi-line report with the socket's stack.
import { HostConfigError } from './errors.ts';

/** What a listen failure's socket code means to the user, and what to do. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another peer? pick another port with --listen)',
  EADDRNOTAVAIL: 'no interface of this machine has that address (pick one of its own, or /ip4/0.0.0.0, with --listen)',
  EACCES: 'permission denied (ports below 1024 need privileges: pick another port with --listen)',
};

/**
 * libp2p's failure to listen (its message names each address with the socket's error) as a HostConfigError naming
 * the first address; undefined for any other failure.
 */
export function listenError(err: unknown): HostConfigError | undefined {
  const text = err instanceof Error ? err.message : String(err);
  const m = /(\/\S+): \w*Error: listen (E[A-Z]+)/.exec(text);
  if (!m) return undefined;
  return new HostConfigError(`cannot listen on ${m[1]}: ${LISTEN_FAILURES[m[2]] ?? m[2].toLowerCase()}`);
}
