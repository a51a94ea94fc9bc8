// Where the status server listens (docs/design §7): `--http <host:port>`, `--http <port>` or `--http :<port>`.
// Without a host it is loopback only; a host other than loopback must be written out.
import net from 'node:net';
import { HttpAddressError } from './errors.ts';

export interface HttpAddress {
  host: string;
  /** 0: any free port. */
  port: number;
  /** The host was written out (a public one is then allowed). */
  explicit: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether `host` only reaches this machine. */
export const isLoopback = (host: string): boolean => LOOPBACK.has(host) || /^127\./.test(host);

/** Parses `--http`'s value; an HttpAddressError in one line when it is not one. */
export function parseHttpAddress(raw: string): HttpAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$|^(\d+)$/.exec(raw.trim());
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3] ?? m[4]) : NaN;
  if (!m || !(port >= 0 && port <= 65535) || (host !== '' && host !== 'localhost' && !net.isIP(host)))
    throw new HttpAddressError(
      `--http must be <host:port>, <port> or :<port> with an IP address as host (e.g. 127.0.0.1:9100, or :0 for any ` +
        `free port), got '${raw}'`,
    );
  return host === '' ? { host: '127.0.0.1', port, explicit: false } : { host, port, explicit: true };
}
