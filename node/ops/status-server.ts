// The operator's HTTP server (docs/design §7): `/` the status page, `/status.json` the snapshot it polls,
// `/metrics` Prometheus metrics. It reads its source at each request and knows nothing else of the process.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpAddressError } from './errors.ts';
import { type HttpAddress, isLoopback } from './http-address.ts';
import { newRegistry, scrape } from './metrics.ts';
import { STATUS_PAGE } from './status-page.ts';
import type { StatusSource } from './status-snapshot.ts';

export interface StatusServerInit {
  address: HttpAddress;
  source: StatusSource;
}

export class StatusServer {
  private constructor(
    private readonly server: http.Server,
    /** The page's address, e.g. http://127.0.0.1:9100/. */
    readonly url: string,
  ) {}

  /** Listens on `address` (port 0: any free one); a host beyond loopback only when written out. */
  static async start({ address, source }: StatusServerInit): Promise<StatusServer> {
    if (!isLoopback(address.host) && !address.explicit)
      throw new HttpAddressError(
        `the status server listens on loopback unless a host is given: write --http ${address.host}:${address.port} ` +
          'to serve it beyond this machine',
      );
    const registry = newRegistry();
    const server = http.createServer((req, res) => {
      void answer(req, res, source, registry);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new HttpAddressError(`cannot listen on ${address.host}:${address.port}: ${err.message}`)),
      );
      server.listen(address.port, address.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return new StatusServer(server, `http://${host}:${port}/`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

type Registry = ReturnType<typeof newRegistry>;

async function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  source: StatusSource,
  registry: Registry,
): Promise<void> {
  const send = (code: number, type: string, body: string) => {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'only GET\n');
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
