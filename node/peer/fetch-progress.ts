// A line now and then about a transfer in progress (chunks from the team, a model from the hub), for the peer's log.
import type { DownloadProgress } from '../agent/hub/hub.ts';
import type { FetchProgress } from '../protocol/chunk-fetch.ts';

/** A line about a fetch in progress at most this often. */
const PROGRESS_MS = 5_000;

/** Logs the fetch of `what` now and then, and when it completes. */
export function fetchProgress(log: (line: string) => void, what: string): (p: FetchProgress) => void {
  let last = 0;
  return (p) => {
    const done = p.chunksDone === p.chunksTotal;
    if (!done && Date.now() - last < PROGRESS_MS) return;
    last = Date.now();
    const mb = (b: number) => (b / 1e6).toFixed(p.bytesTotal < 10e6 ? 1 : 0);
    log(
      `${what}: ${mb(p.bytesDone)} of ${mb(p.bytesTotal)} MB ` +
        `(${((100 * p.bytesDone) / p.bytesTotal).toFixed(0)}%, ${mb(p.bytesPerSecond)} MB/s)`,
    );
  };
}

/** Logs the download of `what`'s files now and then, and each file when it completes. */
export function downloadProgress(log: (line: string) => void, what: string): (p: DownloadProgress) => void {
  let last = 0;
  return ({ file, bytes, total }) => {
    const done = total > 0 && bytes >= total;
    if (!done && Date.now() - last < PROGRESS_MS) return;
    last = Date.now();
    log(`${what}: ${file} ${(bytes / 1e6).toFixed(0)} of ${total > 0 ? (total / 1e6).toFixed(0) : '?'} MB`);
  };
}
