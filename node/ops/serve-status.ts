// Serving a process's status (docs/design §7): the server on `--http`'s address, and — once announced in a data
// dir — the file there that tells `sat-peer status --data-dir` where it is, until the process stops.
import { parseHttpAddress } from './http-address.ts';
import { removeStatusFile, writeStatusFile } from './status-file.ts';
import { StatusServer } from './status-server.ts';
import type { StatusSource } from './status-snapshot.ts';

export interface ServedStatus {
  /** The page's address, e.g. http://127.0.0.1:9100/ (loopback when it serves every interface). */
  url: string;
  /** Where the page is, for a line such as `status page at ...`: its URL, and whether every interface serves it. */
  where: string;
  /** Writes the page's URL to `dataDir`'s status file, removed when the server stops. */
  announce(dataDir: string): void;
  stop(): Promise<void>;
}

/** `server`'s URL, saying so when every interface (0.0.0.0 or ::) serves it. */
export const whereServed = (server: Pick<StatusServer, 'url' | 'everyInterface'>): string =>
  server.everyInterface ? `${server.url} (served on every interface)` : server.url;

/**
 * Serves `source` on `http` (an `--http` value); with `dataDir`, the URL is written there at once (else when
 * `announce` is called). When that file cannot be written, the server is stopped and the error thrown.
 */
export async function serveStatus(http: string, source: StatusSource, dataDir?: string): Promise<ServedStatus> {
  const server = await StatusServer.start({ address: parseHttpAddress(http), source });
  const announced = new Set<string>();
  let stopped: Promise<void> | undefined;
  const served: ServedStatus = {
    url: server.url,
    where: whereServed(server),
    announce(dir) {
      writeStatusFile(dir, server.url);
      announced.add(dir);
    },
    stop() {
      stopped ??= (async () => {
        for (const dir of announced) removeStatusFile(dir);
        await server.stop();
      })();
      return stopped;
    },
  };
  if (dataDir)
    try {
      served.announce(dataDir);
    } catch (err) {
      await server.stop();
      throw err;
    }
  return served;
}
