// Serving a process's status (docs/design §7): the server on `--http`'s address, and — with a data dir — the
// file there that tells `sat-peer status --data-dir` where it is, until the process stops.
import { parseHttpAddress } from './http-address.ts';
import { removeStatusFile, writeStatusFile } from './status-file.ts';
import { StatusServer } from './status-server.ts';
import type { StatusSource } from './status-snapshot.ts';

export interface ServedStatus {
  /** The page's address, e.g. http://127.0.0.1:9100/. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves `source` on `http` (an `--http` value); the URL is written to `dataDir` while it runs. When that file
 * cannot be written, the server is stopped and the error thrown.
 */
export async function serveStatus(http: string, source: StatusSource, dataDir?: string): Promise<ServedStatus> {
  const server = await StatusServer.start({ address: parseHttpAddress(http), source });
  if (dataDir)
    try {
      writeStatusFile(dataDir, server.url);
    } catch (err) {
      await server.stop();
      throw err;
    }
  let stopped: Promise<void> | undefined;
  return {
    url: server.url,
    stop() {
      stopped ??= (async () => {
        if (dataDir) removeStatusFile(dataDir);
        await server.stop();
      })();
      return stopped;
    },
  };
}
