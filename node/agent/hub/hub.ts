// `--model <spec>` to a checkpoint folder: an existing folder or an embedded demo model as is, a hub
// model from the Hugging Face cache, else downloaded into that cache.
//
//   const model = await resolveModel('qwen3-0.6b', { progress: progressBar(process.stderr) });
//   const ckpt = loadCheckpoint(model.dir);   // model.source: 'embedded' | 'path' | 'cache' | 'download'
//
// The folder returned for a hub model is `$HF_HOME/hub/models--Org--Name/snapshots/<commit>/`, the
// standard HF cache layout (refs/, blobs/, snapshots/) that huggingface_hub reads and writes: a cache it
// wrote is used as it is, read-only too. See cache.ts.
//
// A cached snapshot of the revision is used without asking the hub whether the branch moved (no
// request at all); pass a revision, or delete refs/<revision>, to fetch a newer commit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelFormatError, ModelNotFoundError } from '../errors.ts';
import {
  blobsDir,
  linkIntoSnapshot,
  markMissing,
  OPTIONAL_FILES,
  readRef,
  repoCache,
  REQUIRED_FILES,
  type RepoCache,
  shardNames,
  SINGLE_WEIGHTS,
  snapshotDir,
  snapshotState,
  WEIGHTS_INDEX,
  writeRef,
} from './cache.ts';
import { downloadBlob, fetchFileMeta, fetchRepoInfo, type DownloadProgress, type HubClient } from './download.ts';
import { parseModelSpec } from './model-names.ts';

export type { DownloadProgress } from './download.ts';

export interface ResolveOptions {
  /** Never touch the network; default: HF_HUB_OFFLINE=1. */
  offline?: boolean;
  /** The hub; default: HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /**
   * Default: HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. The cache is its hub/ (or
   * HF_HUB_CACHE when unset).
   */
  hfHome?: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** Default: HF_TOKEN, else the token `huggingface-cli login` saved in $HF_HOME/token. */
  token?: string;
  /** Called during downloads, at most ~10 times a second per file, and once when a file is complete. */
  progress?: (p: DownloadProgress) => void;
  fetch?: typeof fetch;
}

export interface ResolvedModel {
  /** The checkpoint folder (absolute). */
  dir: string;
  /** The short name, the repo id, or the folder's name. */
  name: string;
  source: 'embedded' | 'path' | 'cache' | 'download';
  /** Hub models: the repo id and the commit of the snapshot. */
  repo?: string;
  commit?: string;
}

export async function resolveModel(spec: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const model = parseModelSpec(spec);
  if (model.kind !== 'hub') return { dir: model.dir, name: model.name, source: model.kind };
  const env = process.env;
  const revision = opts.revision ?? 'main';
  const offline = opts.offline ?? /^(1|on|yes|true)$/i.test(env.HF_HUB_OFFLINE ?? '');
  const home =
    opts.hfHome ?? env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  const hubDir = opts.hfHome === undefined && env.HF_HUB_CACHE ? env.HF_HUB_CACHE : path.join(home, 'hub');
  const cache = repoCache(hubDir, model.repo);
  const found = { name: model.name, repo: model.repo };

  const cached = fromCache(cache, revision, !offline);
  if (cached) return { ...found, ...cached, source: 'cache' };
  if (offline) throw offlineMiss(cache, revision, hubDir);

  const hub: HubClient = {
    endpoint: (opts.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    token: opts.token ?? env.HF_TOKEN ?? readSavedToken(home),
    fetch: opts.fetch ?? fetch,
  };
  const commit = await download(hub, cache, revision, opts.progress);
  return { ...found, dir: snapshotDir(cache, commit), commit, source: 'download' };
}

/** The complete snapshot of `revision` in the cache; undefined when there is none. */
function fromCache(cache: RepoCache, revision: string, strict: boolean): { dir: string; commit: string } | undefined {
  const commit = readRef(cache, revision);
  if (commit === undefined || !fs.existsSync(snapshotDir(cache, commit))) return undefined;
  const state = snapshotState(cache, commit, strict);
  if (state.missing.length > 0) return undefined;
  return { dir: snapshotDir(cache, commit), commit };
}

function offlineMiss(cache: RepoCache, revision: string, hubDir: string): ModelNotFoundError {
  const commit = readRef(cache, revision);
  const what =
    commit === undefined || !fs.existsSync(snapshotDir(cache, commit))
      ? `no snapshot for revision ${revision}`
      : `snapshot ${commit} lacks ${snapshotState(cache, commit, false).missing.join(', ')}`;
  return new ModelNotFoundError(
    `offline: ${cache.repo} at revision ${revision} is not in the Hugging Face cache ${hubDir}: ${what}; ` +
      'run once without --offline (and without HF_HUB_OFFLINE=1) to download it, or set HF_HOME to the cache that holds it',
  );
}

/**
 * Fetches every checkpoint file of `revision` that the snapshot lacks into blobs/, then links them all
 * into snapshots/<commit>/ (so a failed run leaves complete blobs to reuse, and no half snapshot); returns the commit.
 */
async function download(
  hub: HubClient,
  cache: RepoCache,
  revision: string,
  progress?: (p: DownloadProgress) => void,
): Promise<string> {
  const info = await fetchRepoInfo(hub, cache.repo, revision);
  const { commit } = info;
  const onHub = new Set(info.files);
  const weights = onHub.has(WEIGHTS_INDEX) ? WEIGHTS_INDEX : SINGLE_WEIGHTS;
  for (const file of [...REQUIRED_FILES, weights]) {
    if (!onHub.has(file)) {
      throw new ModelFormatError(
        `${cache.repo} at revision ${revision} has no ${file}; it is not a Qwen3 checkpoint in safetensors form ` +
          `(${hub.endpoint}/${cache.repo})`,
      );
    }
  }
  const snapshot = snapshotDir(cache, commit);
  const fetched = new Map<string, string>(); // repo file -> its new blob
  /** The local path of `file`: the snapshot's entry when there is one, else a freshly downloaded blob. */
  const local = async (file: string): Promise<string> => {
    const entry = path.join(snapshot, file);
    if (fs.statSync(entry, { throwIfNoEntry: false })?.isFile()) return entry;
    const blob = await downloadBlob(hub, await fetchFileMeta(hub, cache.repo, commit, file), blobsDir(cache), progress);
    fetched.set(file, blob);
    return blob;
  };
  const files = [...REQUIRED_FILES, ...OPTIONAL_FILES.filter((f) => onHub.has(f))];
  for (const file of files) await local(file);
  const weightsPath = await local(weights);
  files.push(weights);
  if (weights === WEIGHTS_INDEX) {
    for (const shard of shardNames(weightsPath)) {
      await local(shard);
      files.push(shard);
    }
  }

  for (const [file, blob] of fetched) linkIntoSnapshot(cache, commit, file, blob);
  for (const file of OPTIONAL_FILES.filter((f) => !onHub.has(f))) markMissing(cache, commit, file);
  writeRef(cache, revision, commit);
  return commit;
}

function readSavedToken(home: string): string | undefined {
  const file = process.env.HF_TOKEN_PATH ?? path.join(home, 'token');
  const token = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  return token || undefined;
}

const DONE = 11; // past the tenths 0..10

/**
 * A progress callback that draws one line per file on `stream`: redrawn in place (`\r`) on a
 * terminal, else a line at every 10%.
 */
export function progressBar(stream: NodeJS.WritableStream & { isTTY?: boolean }): (p: DownloadProgress) => void {
  const shown = new Map<string, number>();
  return ({ file, bytes, total }) => {
    const fraction = total > 0 ? Math.min(1, bytes / total) : 0;
    const width = 30;
    const filled = Math.round(fraction * width);
    const size = total > 0 ? `${formatBytes(bytes)}/${formatBytes(total)}` : formatBytes(bytes);
    const line = `${file} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${size}`;
    const done = total > 0 && bytes >= total;
    const tenth = done ? DONE : Math.floor(fraction * 10);
    if (shown.get(file) === DONE || (!stream.isTTY && shown.get(file) === tenth)) return;
    shown.set(file, tenth);
    stream.write(stream.isTTY ? `\r${line}\x1b[K${done ? '\n' : ''}` : `${line}\n`);
  };
}

function formatBytes(n: number): string {
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}
