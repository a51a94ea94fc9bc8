// Where the status server listens (docs/design §7): `--http <host:port>`, `--http <port>` or `--http :<port>`.
// Without a host it is 127.0.0.1; a host written out (a public one included) is served there.
import net from 'node:net';
import { HttpAddressError } from './errors.ts';

export interface HttpAddress {
  host: string;
  /** 0: any free port. */
  port: number;
}

/** Whether `host` (a name, or an IP address with no brackets) only reaches this machine. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));

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
  return { host: host === '' ? '127.0.0.1' : host, port };
}
