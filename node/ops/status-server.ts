// The operator's HTTP server (docs/design §7): `/` the status page, `/status.json` the snapshot it polls,
// `/metrics` Prometheus metrics. It reads its source at each request and knows nothing else of the process.
// On loopback it answers only requests addressed to loopback (their Host header), so that a web page whose name
// is made to resolve to 127.0.0.1 (DNS rebinding) cannot read it from the operator's browser.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpAddressError } from './errors.ts';
import { type HttpAddress, isLoopback } from './http-address.ts';
import { newRegistry, scrape } from './metrics.ts';
import { STATUS_PAGE } from './status-page.ts';
import type { StatusSource } from './status-snapshot.ts';

/** Connections served at once; one more is closed as it comes. */
export const MAX_CONNECTIONS = 64;
/** How long a request's headers, and the whole request, may take to arrive. */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface StatusServerInit {
  address: HttpAddress;
  source: StatusSource;
}

export class StatusServer {
  private constructor(
    private readonly server: http.Server,
    /**
     * The page's address, one a browser on this machine can open, e.g. http://127.0.0.1:9100/ (served on every
     * interface, 0.0.0.0 or ::, it names loopback).
     */
    readonly url: string,
    /** Whether it listens on every interface (0.0.0.0 or ::). */
    readonly everyInterface: boolean,
  ) {}

  /** Listens on `address` (port 0: any free one). */
  static async start({ address, source }: StatusServerInit): Promise<StatusServer> {
    const registry = newRegistry();
    const loopbackOnly = isLoopback(address.host);
    const server = http.createServer(
      { headersTimeout: REQUEST_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
      (req, res) => {
        if (loopbackOnly && !toLoopback(req)) {
          res.writeHead(403, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
          res.end('forbidden: this status server answers only requests to localhost, 127.0.0.1 or [::1]\n');
          return;
        }
        void answer(req, res, source, registry);
      },
    );
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new HttpAddressError(
            `cannot listen on ${address.host}:${address.port}: ${
              err.code === 'EADDRINUSE'
                ? 'the port is in use (another process? pick another port with --http, or :0 for any free one)'
                : err.message
            }`,
          ),
        ),
      );
      server.listen(address.port, address.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    // 0.0.0.0 and :: are where to listen, not an address to open: the page is named by loopback then.
    const everyInterface = address.host === '0.0.0.0' || /^[0:]+$/.test(address.host);
    const named = everyInterface ? (address.host.includes(':') ? '::1' : '127.0.0.1') : address.host;
    const host = named.includes(':') ? `[${named}]` : named;
    return new StatusServer(server, `http://${host}:${port}/`, everyInterface);
  }

  /** Stops listening, then ends the connections still open (a browser's kept-alive ones). */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

/** Whether `req`'s Host header names a loopback host, and the port the request came in on. */
function toLoopback(req: http.IncomingMessage): boolean {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(req.headers.host ?? '');
  if (!m) return false;
  const host = (m[1] ?? m[2]).toLowerCase();
  return isLoopback(host) && Number(m[3] ?? 80) === req.socket.localPort;
}

type Registry = ReturnType<typeof newRegistry>;

async function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  source: StatusSource,
  registry: Registry,
): Promise<void> {
  const send = (code: number, type: string, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(405, 'text/plain', 'method not allowed: only GET and HEAD\n', { allow: 'GET, HEAD' });
  const route = (req.url ?? '/').split('?')[0]; // the path as sent ('//metrics' is no host here)
  try {
    if (route === '/') return send(200, 'text/html; charset=utf-8', STATUS_PAGE);
    if (route === '/status.json') return send(200, 'application/json', JSON.stringify(source.snapshot()));
    if (route === '/metrics') return send(200, registry.contentType, await scrape(registry, source.metrics()));
    send(404, 'text/plain', 'not found: try /, /status.json or /metrics\n');
  } catch (err) {
    send(500, 'text/plain', `${(err as Error).message}\n`);
  }
}
