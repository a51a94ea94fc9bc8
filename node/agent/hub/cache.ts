// The Hugging Face cache layout, read and written the way huggingface_hub does:
//
//   <hub>/models--Qwen--Qwen3-4B/refs/main                  the commit that `main` pointed at
//                               blobs/<etag>                 file contents, named by sha256 (LFS) or git-sha1
//                               snapshots/<commit>/<file>    the checkpoint folder of that commit
//                               .no_exist/<commit>/<file>    empty markers: an optional file the repo lacks
//
// Snapshot entries are relative symlinks into ../../blobs, as huggingface_hub makes them (copies where the
// filesystem has no symlinks, as it writes them on Windows); sat-peer reads the weights itself, so either works.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { ModelDownloadError, ModelFormatError } from '../errors.ts';

/** Files a Qwen3 checkpoint needs, besides its weights. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json'];
/** Files used when the repo has them (tokenizer.ts reads the chat template and eos ids from these). */
export const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'];
export const SINGLE_WEIGHTS = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

const COMMIT = /^[0-9a-f]{40}$/;

export interface RepoCache {
  /** `<hub>/models--Org--Name`. */
  root: string;
  repo: string;
}

export function repoCache(hubDir: string, repo: string): RepoCache {
  return { root: path.join(hubDir, `models--${repo.split('/').join('--')}`), repo };
}

export const blobsDir = (c: RepoCache) => path.join(c.root, 'blobs');
export const snapshotDir = (c: RepoCache, commit: string) => path.join(c.root, 'snapshots', commit);

/** The commit `revision` names: the revision itself when it is a commit hash, else the one recorded in refs/. */
export function readRef(c: RepoCache, revision: string): string | undefined {
  if (COMMIT.test(revision)) return revision;
  const file = path.join(c.root, 'refs', revision);
  if (!fs.existsSync(file)) return undefined;
  const commit = fs.readFileSync(file, 'utf8').trim();
  return COMMIT.test(commit) ? commit : undefined;
}

export function writeRef(c: RepoCache, revision: string, commit: string): void {
  if (revision !== commit) writeFileAtomic(path.join(c.root, 'refs', revision), commit);
}

/** Records that the repo has no `file` at `commit`, so a later run need not ask again. */
export function markMissing(c: RepoCache, commit: string, file: string): void {
  const marker = path.join(c.root, '.no_exist', commit, file);
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.writeFileSync(marker, '');
}

const isFile = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() === true;

/** The shard file names of an index's weight_map, each checked to stay inside the folder. */
export function shardNames(indexFile: string): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (e) {
    throw new ModelFormatError(
      `${indexFile}: not valid JSON (${(e as Error).message}); delete it and download the model again`,
    );
  }
  if (typeof map !== 'object' || map === null || Object.values(map).some((v) => typeof v !== 'string')) {
    throw new ModelFormatError(`${indexFile}: 'weight_map' must map tensor names to shard files`);
  }
  const shards = [...new Set(Object.values(map as Record<string, string>))];
  for (const s of shards) checkRelative(s, indexFile);
  return shards.sort();
}

/** Throws unless `file` is a plain relative path inside the repo (no '..', not absolute). */
function checkRelative(file: string, where: string): void {
  if (file === '' || path.isAbsolute(file) || file.split(/[\\/]/).some((p) => p === '..' || p === '')) {
    throw new ModelFormatError(`${where}: file name '${file}' leaves the checkpoint folder`);
  }
}

export interface SnapshotState {
  /** Files of the checkpoint present in the snapshot, weights included. */
  present: string[];
  /** What is missing, as the offline error lists it. */
  missing: string[];
}

/**
 * What the snapshot of `commit` holds. With `strict`, an optional file counts as missing unless it is
 * present or marked absent in .no_exist/ (so an online run asks the hub about it once); without, only
 * the required files and the weights count.
 */
export function snapshotState(c: RepoCache, commit: string, strict: boolean): SnapshotState {
  const dir = snapshotDir(c, commit);
  const present: string[] = [];
  const missing: string[] = [];
  const want = (file: string) => (isFile(path.join(dir, file)) ? present.push(file) : missing.push(file));
  REQUIRED_FILES.forEach(want);
  for (const file of OPTIONAL_FILES) {
    if (isFile(path.join(dir, file))) present.push(file);
    else if (strict && !fs.existsSync(path.join(c.root, '.no_exist', commit, file))) missing.push(file);
  }
  if (isFile(path.join(dir, WEIGHTS_INDEX))) {
    present.push(WEIGHTS_INDEX);
    shardNames(path.join(dir, WEIGHTS_INDEX)).forEach(want);
  } else if (isFile(path.join(dir, SINGLE_WEIGHTS))) {
    present.push(SINGLE_WEIGHTS);
  } else {
    missing.push(`${SINGLE_WEIGHTS} (or ${WEIGHTS_INDEX} and its shards)`);
  }
  return { present, missing };
}

/**
 * Puts `blob` at `file` in the snapshot of `commit` as huggingface_hub does: a relative symlink into blobs/ (a copy
 * where the filesystem has no symlinks), atomically.
 */
export function linkIntoSnapshot(c: RepoCache, commit: string, file: string, blob: string): void {
  const target = path.join(snapshotDir(c, commit), file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  try {
    try {
      fs.symlinkSync(path.relative(path.dirname(target), blob), tmp);
    } catch {
      fs.copyFileSync(blob, tmp);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new ModelDownloadError(
      `cannot place ${target} in the Hugging Face cache (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ` +
        'make HF_HOME writable, or download the checkpoint to a folder and pass its path to --model',
    );
  }
}
