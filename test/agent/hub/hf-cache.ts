// A Hugging Face cache as huggingface_hub leaves it, for the tests whose commands read a hub model from it offline.
import fs from 'node:fs';
import path from 'node:path';

/** The commit every cached snapshot is at. */
const COMMIT = 'c'.repeat(40);

/** Puts `files` (by name: the file to copy) in `repo`'s snapshot under `hfHome`, which refs/main names. */
export function cacheSnapshot(hfHome: string, repo: string, files: Record<string, string>): void {
  const root = path.join(hfHome, 'hub', `models--${repo.split('/').join('--')}`);
  const snapshot = path.join(root, 'snapshots', COMMIT);
  fs.mkdirSync(path.join(root, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(root, 'refs', 'main'), COMMIT);
  fs.mkdirSync(snapshot, { recursive: true });
  for (const [name, from] of Object.entries(files)) fs.copyFileSync(from, path.join(snapshot, name));
}
