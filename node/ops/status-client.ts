// Reading a running process's status (docs/design §7): /status.json at its page's URL.
import { StatusUnreachableError } from './errors.ts';
import type { StatusSnapshot } from './status-snapshot.ts';

/** How long a status request may take. */
const TIMEOUT_MS = 5_000;

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

/** The snapshot served at `page`; a StatusUnreachableError naming the address when none answers. */
export async function fetchStatus(page: URL): Promise<StatusSnapshot> {
  const url = new URL('status.json', page);
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (err) {
    const why = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new StatusUnreachableError(`no status page answers at ${url.href} (${why})`);
  }
  if (!looksLikeSnapshot(body)) throw new StatusUnreachableError(`${url.href} is not a sat-peer status`);
  return body;
}
