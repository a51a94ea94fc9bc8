// Reading a running process's status (docs/design §7): /status.json at its page's URL.
import http from 'node:http';
import { StatusUnreachableError } from './errors.ts';
import type { StatusSnapshot } from './status-snapshot.ts';

/** How long a status request may wait for each answer. */
const TIMEOUT_MS = 5_000;
/** The largest answer read. */
const MAX_BYTES = 64 * 2 ** 20;

/** The page's URL from what a user typed: a URL, or host:port (http:// is then assumed); undefined if neither. */
export function statusUrl(raw: string): URL | undefined {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    return url.protocol === 'http:' && url.hostname ? url : undefined;
  } catch {
    return undefined;
  }
}

const looksLikeSnapshot = (s: unknown): s is StatusSnapshot => {
  const x = s as StatusSnapshot;
  return typeof x?.role === 'string' && Array.isArray(x.roster) && Array.isArray(x.stages) && Array.isArray(x.errors);
};

/** Why nothing could be read from `url`, in words. */
function failure(err: NodeJS.ErrnoException, url: URL): string {
  if (err.code === 'ECONNREFUSED') return `nothing listens at ${url.host}`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `no host named ${url.hostname} is known`;
  return err.message;
}

/**
 * The JSON body of a GET of `url`. node:http rather than fetch: fetch refuses the ports browsers block (1, 6000,
 * ...), which a status server may well listen on.
 */
function getJson(url: URL): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`HTTP ${res.statusCode}`));
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > MAX_BYTES) req.destroy(new Error(`an answer over ${MAX_BYTES / 2 ** 20} MiB`));
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error('an answer that is not JSON'));
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
  });
}

/** The snapshot served at `page`; a StatusUnreachableError naming the address when none answers. */
export async function fetchStatus(page: URL): Promise<StatusSnapshot> {
  const url = new URL('status.json', page);
  let body: unknown;
  try {
    body = await getJson(url);
  } catch (err) {
    throw new StatusUnreachableError(
      `no status page answers at ${url.href}: ${failure(err as NodeJS.ErrnoException, url)}`,
    );
  }
  if (!looksLikeSnapshot(body)) throw new StatusUnreachableError(`${url.href} is not a sat-peer status`);
  return body;
}
