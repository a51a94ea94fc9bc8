// The line a user sees while an agent's weights are read and made float32 (seconds for 0.6B, a minute or more for
// 8B): a progress bar on stderr, drawn in place on a terminal and every tenth otherwise. A checkpoint small enough
// to be graph constants reads nothing there and shows nothing.
import { progressBar } from '../agent/hub/hub.ts';
import type { LoadProgress } from '../gpu/ort.ts';

export function weightsProgress(label: string): LoadProgress {
  const bar = progressBar(process.stderr);
  return (done, total) => bar({ file: `${label}: reading weights as float32`, bytes: done, total });
}
