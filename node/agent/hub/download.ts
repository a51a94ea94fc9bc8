// Talking to a Hugging Face hub (or a mirror behind HF_ENDPOINT) with Node's fetch: the file list of a
// revision, each file's metadata, and a checked, resumable download of one file into blobs/.
//
//   GET  <endpoint>/api/models/<repo>/revision/<rev>   -> { sha, siblings: [{ rfilename }] }
//   HEAD <endpoint>/<repo>/resolve/<commit>/<file>      -> ETag / X-Linked-Etag, Content-Length / X-Linked-Size
//   GET  the same URL (redirects to the CDN for LFS files are followed), with Range to resume
//
// A blob is written to `blobs/<etag>.incomplete`, appended to on the next run (Range: bytes=<n>-),
// checked against its size and its etag (sha256 for LFS files, git-sha1 for small ones) and only then
// renamed to `blobs/<etag>`. Every failure is a ModelDownloadError naming the URL and what to do.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ModelDownloadError, ModelFormatError } from '../errors.ts';

export interface HubClient {
  /** e.g. https://huggingface.co, no trailing slash. */
  endpoint: string;
  /** Sent as `Authorization: Bearer <token>` to the endpoint. */
  token?: string;
  fetch: typeof fetch;
}

export interface DownloadProgress {
  /** The repo file, e.g. model.safetensors. */
  file: string;
  bytes: number;
  /** 0 when the server did not say. */
  total: number;
}

export interface RepoInfo {
  /** The commit the revision points at. */
  commit: string;
  /** Every file of the repo at that commit. */
  files: string[];
}

export interface FileMeta {
  repo: string;
  commit: string;
  /** The repo file, e.g. model.safetensors. */
  file: string;
  url: string;
  /** Blob name: sha256 of the content for LFS files, git-sha1 for others. */
  etag: string;
  size?: number;
}

/** What a request is about, for the error messages. */
interface Subject {
  repo: string;
  revision: string;
  file?: string;
}

/** Metadata requests give up after this long. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A download gives up when no byte arrives for this long (the partial file is kept for the next run). */
const STALL_TIMEOUT_MS = 60_000;
/** Progress callbacks at most this often. */
const PROGRESS_INTERVAL_MS = 100;
const SAFE_ETAG = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/; // a plain file name: no "/", not "." or ".."

export async function fetchRepoInfo(hub: HubClient, repo: string, revision: string): Promise<RepoInfo> {
  const url = `${hub.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const res = await send(hub, url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }, { repo, revision });
  let body: { sha?: unknown; siblings?: unknown };
  try {
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new ModelDownloadError(
      `${url}: the answer is not JSON (${(e as Error).message}); check that HF_ENDPOINT (${hub.endpoint}) is a Hugging Face hub`,
    );
  }
  const siblings = Array.isArray(body.siblings)
    ? body.siblings.map((s: { rfilename?: unknown }) => s?.rfilename)
    : undefined;
  if (
    typeof body.sha !== 'string' ||
    !/^[0-9a-f]{40}$/.test(body.sha) ||
    !siblings?.every((f) => typeof f === 'string')
  ) {
    throw new ModelDownloadError(
      `${url}: expected { sha, siblings: [{ rfilename }] }; check that HF_ENDPOINT (${hub.endpoint}) is a Hugging Face hub`,
    );
  }
  return { commit: body.sha, files: siblings as string[] };
}

function resolveUrl(hub: HubClient, repo: string, commit: string, file: string): string {
  return `${hub.endpoint}/${repo}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * A file's etag and size by HEAD, as huggingface_hub reads them: relative redirects (renamed repos) are followed, the
 * CDN redirect of an LFS file is not.
 */
export async function fetchFileMeta(hub: HubClient, repo: string, commit: string, file: string): Promise<FileMeta> {
  const subject = { repo, revision: commit, file };
  const url = resolveUrl(hub, repo, commit, file);
  let at = url;
  let res = await send(
    hub,
    at,
    { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
    subject,
  );
  for (let hops = 0; isRedirect(res) && hops < 5; hops++) {
    const location = res.headers.get('location') ?? '';
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) break; // another host: the CDN, whose headers are not the hub's
    at = new URL(location, at).href;
    res = await send(
      hub,
      at,
      { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      subject,
    );
  }
  const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '')
    .replace(/^W\//, '')
    .replace(/"/g, '');
  if (!SAFE_ETAG.test(etag)) {
    throw new ModelDownloadError(
      `HEAD ${at}: no usable ETag (got '${etag}'); check that HF_ENDPOINT (${hub.endpoint}) is a Hugging Face hub or mirror`,
    );
  }
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN);
  return { repo, commit, file, url, etag, ...(Number.isSafeInteger(size) && size >= 0 ? { size } : {}) };
}

/**
 * Downloads the file `meta` describes to `<blobs>/<etag>`, resuming a partial download, checked; returns the blob
 * path.
 */
export async function downloadBlob(
  hub: HubClient,
  meta: FileMeta,
  blobs: string,
  progress?: (p: DownloadProgress) => void,
): Promise<string> {
  const file = meta.file;
  const blob = path.join(blobs, meta.etag);
  if (fs.existsSync(blob)) return blob; // same content under another name or commit
  fs.mkdirSync(blobs, { recursive: true });
  const part = `${blob}.incomplete`;
  const total = meta.size ?? 0;
  let have = fs.statSync(part, { throwIfNoEntry: false })?.size ?? 0;
  if (meta.size !== undefined && have > meta.size) have = truncate(part);
  let hash = contentHash(meta);
  if (have > 0) await feedFile(hash, part);

  if (meta.size === undefined || have < meta.size) {
    const stall = new AbortController();
    let timer = setTimeout(() => stall.abort(), STALL_TIMEOUT_MS);
    const report = throttled(progress);
    const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
    try {
      const res = await send(
        hub,
        meta.url,
        { headers, signal: stall.signal },
        { repo: meta.repo, revision: meta.commit, file },
      );
      if (have > 0 && res.status !== 206) {
        have = truncate(part); // the server ignored the range: start over
        hash = contentHash(meta);
      } else if (res.status === 206 && !(res.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`)) {
        truncate(part);
        throw new ModelDownloadError(
          `${meta.url}: asked for bytes ${have}- of ${file}, got ${res.headers.get('content-range')}; run again to download it whole`,
        );
      }
      const fh = await fs.promises.open(part, have > 0 ? 'a' : 'w');
      try {
        report({ file, bytes: have, total });
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          clearTimeout(timer);
          timer = setTimeout(() => stall.abort(), STALL_TIMEOUT_MS);
          await fh.write(chunk);
          hash?.update(chunk);
          have += chunk.length;
          if (meta.size !== undefined && have > meta.size) break; // more than announced: refused below
          report({ file, bytes: have, total });
        }
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (e instanceof ModelDownloadError) throw e;
      const why = stall.signal.aborted ? `no data for ${STALL_TIMEOUT_MS / 1000} s` : describe(e);
      throw new ModelDownloadError(
        `${meta.url}: download of ${file} broke off at ${have} of ${meta.size ?? '?'} bytes (${why}); run again to resume it`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  if (meta.size !== undefined && have < meta.size) {
    throw new ModelDownloadError(
      `${meta.url}: download of ${file} ended at ${have} of ${meta.size} bytes; run again to resume it`,
    );
  }
  if (meta.size !== undefined && have > meta.size) {
    fs.rmSync(part, { force: true });
    throw new ModelDownloadError(
      `${file}: size mismatch: expected ${meta.size} bytes, got ${have} (from ${meta.url}); run again to download it anew`,
    );
  }
  const got = hash?.digest('hex');
  if (got !== undefined && got !== meta.etag) {
    fs.rmSync(part, { force: true });
    const kind = meta.etag.length === 64 ? 'sha256' : 'git-sha1';
    throw new ModelDownloadError(
      `${file}: ${kind} mismatch: expected ${meta.etag}, got ${got} (from ${meta.url}); the transfer was ` +
        `corrupted, run again to download it anew`,
    );
  }
  fs.renameSync(part, blob);
  progress?.({ file, bytes: have, total: total || have });
  return blob;
}

/** The hash the etag names: sha256 for 64 hex digits, git's blob sha1 for 40 (needs the size); none otherwise. */
function contentHash(meta: FileMeta): Hash | undefined {
  if (/^[0-9a-f]{64}$/.test(meta.etag)) return createHash('sha256');
  if (/^[0-9a-f]{40}$/.test(meta.etag) && meta.size !== undefined)
    return createHash('sha1').update(`blob ${meta.size}\0`);
  return undefined;
}

async function feedFile(hash: Hash | undefined, file: string): Promise<void> {
  if (!hash) return;
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

function truncate(file: string): 0 {
  fs.writeFileSync(file, '');
  return 0;
}

function throttled(progress?: (p: DownloadProgress) => void): (p: DownloadProgress) => void {
  let last = -Infinity;
  return (p) => {
    const now = Date.now();
    if (!progress || now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    progress(p);
  };
}

const isRedirect = (res: Response) => res.status >= 300 && res.status < 400;

/** One request with the hub's headers; a network failure or an error status becomes a ModelDownloadError. */
async function send(hub: HubClient, url: string, init: RequestInit, subject: Subject): Promise<Response> {
  const headers: Record<string, string> = {
    'accept-encoding': 'identity',
    'user-agent': 'sat-peer',
    ...(init.headers as Record<string, string>),
  };
  if (hub.token) headers.authorization = `Bearer ${hub.token}`;
  let res: Response;
  try {
    res = await hub.fetch(url, { ...init, headers });
  } catch (e) {
    const why = (e as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : describe(e);
    throw new ModelDownloadError(
      `cannot reach the Hugging Face hub at ${hub.endpoint} (${url}: ${why}); check the network, set HF_ENDPOINT ` +
        `to a reachable hub or mirror, ` +
        'or run with --offline on a cache that holds the model (HF_HOME)',
    );
  }
  if (res.ok || (init.redirect === 'manual' && isRedirect(res))) return res;
  await res.body?.cancel();
  throw httpFailure(hub, res, url, subject);
}

function httpFailure(hub: HubClient, res: Response, url: string, s: Subject): Error {
  const code = res.headers.get('x-error-code');
  const at = `${res.status} from ${res.url || url}`;
  const page = `${hub.endpoint}/${s.repo}`;
  if (code === 'RepoNotFound' || (res.status === 404 && s.file === undefined && code !== 'RevisionNotFound')) {
    return new ModelDownloadError(
      `repo ${s.repo} not found (${at}); check the model name or repo id, set HF_TOKEN if it is private, or ` +
        `HF_ENDPOINT if it lives on another hub`,
    );
  }
  if (code === 'GatedRepo' || res.status === 403) {
    return new ModelDownloadError(
      `${s.repo} is gated (${at}); accept its terms at ${page} while logged in, then set HF_TOKEN to a token of that account`,
    );
  }
  if (code === 'RevisionNotFound')
    return new ModelDownloadError(
      `revision '${s.revision}' of ${s.repo} not found (${at}); check the revision (a branch, tag or commit)`,
    );
  if (res.status === 401) {
    return new ModelDownloadError(
      hub.token
        ? `the hub refused HF_TOKEN (${at}); create a token with read access at https://huggingface.co/settings/tokens and set HF_TOKEN`
        : `${s.repo} needs authentication (${at}); set HF_TOKEN to a token from https://huggingface.co/settings/tokens`,
    );
  }
  if (code === 'EntryNotFound' || res.status === 404) {
    return new ModelFormatError(
      `${s.file} not found in ${s.repo} (${at}); the repo does not hold a complete Qwen3 safetensors checkpoint`,
    );
  }
  if (res.status === 429)
    return new ModelDownloadError(
      `rate-limited by the hub (${at}); wait a minute and run again, with HF_TOKEN set for a higher limit`,
    );
  const message = res.headers.get('x-error-message');
  return new ModelDownloadError(
    `unexpected ${at}${message ? ` (${message})` : ''}; run again later, or set HF_ENDPOINT to another hub or mirror`,
  );
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}
