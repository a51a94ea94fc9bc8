// How a team file names the files of this machine: relative to the team file's own folder, so that
// the manifest, and with it the team id, is the same wherever the team's folder is, and the file names
// no folder of its creator's machine (docs/design §4.5). A data set is also named by the CID of its
// bytes, and each peer brings its own model (`--model`).
import fs from 'node:fs';
import path from 'node:path';
import { EMBEDDED_MODELS } from '../agent/hub/model-names.ts';

/** `file` relative to the folder `dir`, with `/` between names: `./train.jsonl`, `../models/weak`. */
export function relativeTo(dir: string, file: string): string {
  const rel = path.relative(dir, file).split(path.sep).join('/');
  return rel === '..' || rel.startsWith('../') ? rel : `./${rel}`;
}

const realPath = (p: string) => {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
};

/**
 * A slot's model (a folder, as the config resolved it, or a hub model as written) as a team file in `dir` names it:
 * an embedded demo model by its name (`tiny-weak`), another folder relative to `dir`, a hub model as written.
 */
export function portableModel(dir: string, ref: string): string {
  if (!path.isAbsolute(ref)) return ref;
  const real = realPath(ref);
  const embedded = Object.keys(EMBEDDED_MODELS).find((name) => realPath(EMBEDDED_MODELS[name]) === real);
  return embedded ?? relativeTo(dir, ref);
}

/** Where a data set's `uri` points on this machine: resolved against the team file's folder `dir`; none when empty. */
export const localUri = (dir: string, uri: string): string | undefined => (uri ? path.resolve(dir, uri) : undefined);
