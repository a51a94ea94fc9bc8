// A local HTTP server that answers like the Hugging Face hub: the file list of a revision (api/models), each
// file by resolve with ETag / X-Linked-Etag, a CDN redirect for LFS files, and Range; with faults to inject
// (a corrupted body, Range ignored, a connection closed part way). A file is served from memory, or streamed
// from disk for checkpoints too big to hold.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The commit every revision of the hub points at. */
export const SHA = 'a'.repeat(40);

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const isLfs = (file: string) => file.endsWith('.safetensors');
/** The blob name the hub gives a file: sha256 of LFS files, git's blob sha1 of the others. */
export const etagOf = (file: string, b: Buffer) => (isLfs(file) ? sha256(b) : gitSha1(b));

/** A repo file: its bytes, or a file on disk, read as it is served. */
export type HubFile = Buffer | { path: string };

export interface Hub {
  url: string;
  requests: { method: string; url: string; range?: string; auth?: string }[];
  close(): Promise<void>;
}

export interface Faults {
  /** A file whose GET body is wrong, with the right length (a file held in memory). */
  corrupt?: string;
  /** Answer Range requests with the whole file (200). */
  ignoreRange?: boolean;
  /** Close the connection after this many bytes of a body (of every response). */
  cutAt?: number;
}

/** A served file: its bytes or its path, its size and hub etag, and its sha256 (the CDN's key). */
interface Entry {
  file: string;
  body?: Buffer;
  path?: string;
  size: number;
  etag: string;
  sha256: string;
}

async function entryOf(file: string, content: HubFile): Promise<Entry> {
  if (Buffer.isBuffer(content)) {
    return { file, body: content, size: content.length, etag: etagOf(file, content), sha256: sha256(content) };
  }
  const size = fs.statSync(content.path).size;
  const hashes: Hash[] = [createHash('sha256'), createHash('sha1').update(`blob ${size}\0`)];
  for await (const chunk of fs.createReadStream(content.path)) for (const h of hashes) h.update(chunk as Buffer);
  const [sha, sha1] = hashes.map((h) => h.digest('hex'));
  return { file, path: content.path, size, etag: isLfs(file) ? sha : sha1, sha256: sha };
}

/** An HF-like hub serving `repos`, with `faults`. */
export async function startHub(
  repos: Record<string, Record<string, HubFile>>,
  { corrupt, ignoreRange, cutAt }: Faults = {},
): Promise<Hub> {
  const requests: Hub['requests'] = [];
  const served = new Map<string, Record<string, Entry>>();
  for (const [repo, files] of Object.entries(repos)) {
    const entries = await Promise.all(Object.entries(files).map(([f, c]) => entryOf(f, c)));
    served.set(repo, Object.fromEntries(entries.map((e) => [e.file, e])));
  }
  const blobs = new Map([...served.values()].flatMap((files) => Object.values(files).map((e) => [e.sha256, e])));
  /** `entry` as it is sent: its bytes (changed when it is the corrupted file), or its path. */
  const send = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: Entry,
    body: Buffer | undefined,
    headers: Record<string, string>,
  ) => {
    const m = ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const length = entry.size - start;
    res.writeHead(m ? 206 : 200, {
      ...headers,
      'content-length': String(length),
      ...(m ? { 'content-range': `bytes ${start}-${entry.size - 1}/${entry.size}` } : {}),
    });
    if (req.method === 'HEAD') return res.end();
    const cut = cutAt !== undefined && cutAt < length;
    if (body) {
      const part = body.subarray(start);
      if (!cut) return res.end(part);
      return res.write(part.subarray(0, cutAt), () => res.destroy());
    }
    // From disk: up to the cut, after which the connection closes once what was sent has gone out.
    const stream = fs.createReadStream(entry.path!, { start, ...(cut ? { end: start + cutAt - 1 } : {}) });
    if (cut) res.once('finish', () => res.destroy());
    res.once('close', () => stream.destroy());
    stream.pipe(res);
  };
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, range: req.headers.range, auth: req.headers.authorization });
    const url = decodeURIComponent(req.url!);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/main$/.exec(url);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/(main|[0-9a-f]{40})\/(.+)$/.exec(url);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    const files = served.get((api ?? resolve)?.[1] ?? '');
    if (api?.[1] === 'Qwen/Gated') return res.writeHead(403, { 'x-error-code': 'GatedRepo' }).end();
    if ((api || resolve) && !files) return res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
    if (api) {
      const body = JSON.stringify({
        id: api[1],
        sha: SHA,
        siblings: Object.keys(files!).map((rfilename) => ({ rfilename })),
      });
      return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
    if (resolve) {
      const [, , , file] = resolve;
      const entry = files![file];
      if (!entry) return res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
      const etag = `"${entry.etag}"`;
      if (isLfs(file)) {
        const location = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdn/${entry.sha256}`;
        return res
          .writeHead(302, {
            location,
            'x-repo-commit': SHA,
            'x-linked-etag': etag,
            'x-linked-size': String(entry.size),
            etag: '"redirect"',
          })
          .end();
      }
      const body = file === corrupt ? Buffer.from(entry.body!).fill(32) : entry.body;
      return send(req, res, entry, body, { etag, 'x-repo-commit': SHA });
    }
    const blob = cdn && blobs.get(cdn[1]);
    if (blob) {
      const body = blob.file === corrupt ? Buffer.from(blob.body!).fill(0, blob.size - 100) : blob.body;
      return send(req, res, blob, body, { etag: '"s3-etag-1"' });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise((ok) => server.close(() => ok())) };
}
