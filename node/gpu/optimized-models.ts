// onnxruntime's optimized form of each graph, kept between runs: building a session optimizes its graph (about a
// second for a real-size train step), and a session built from the saved optimized graph skips that. Files are
// keyed by the graph's bytes, onnxruntime's version, the device and the CPU (level-'all' rewrites may be specific to
// it), written atomically, and safe to delete at any time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where a graph's optimized form is (`saved`: already there), or where to save it once built (`saveTo`). */
export type OptimizedModel = { saved: string } | { saveTo: string; commit(): void };

/** $SAT_PEER_CACHE/optimized, else $XDG_CACHE_HOME/sat-peer/optimized, else ~/.cache/sat-peer/optimized. */
export function defaultOptimizedDir(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.SAT_PEER_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'sat-peer');
  return path.join(root, 'optimized');
}

/**
 * The graph's optimized form in `dir`, or undefined where `dir` cannot be written (the session is then built as is).
 * `builds` names what else the optimized form depends on (onnxruntime's version, the device).
 */
export function optimizedModel(dir: string, model: Uint8Array, builds: readonly string[]): OptimizedModel | undefined {
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify([...builds, os.cpus()[0]?.model ?? '', model.byteLength]))
    .update(model)
    .digest('hex')
    .slice(0, 32);
  const file = path.join(dir, `${key}.onnx`);
  if (fs.existsSync(file)) return { saved: file };
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    return undefined;
  }
  const saveTo = `${file}.tmp-${process.pid}-${crypto.randomUUID()}`;
  return {
    saveTo,
    commit: () => {
      if (fs.existsSync(saveTo)) fs.renameSync(saveTo, file);
    },
  };
}
