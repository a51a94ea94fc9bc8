// The handlers of the session worker (compute-worker.ts): onnxruntime sessions built and run on the
// worker's thread, by id, for WorkerSession in ort.ts. Outputs move back by transfer.
import { withTransfer } from './compute-worker.ts';
import { type HostTensor, type RunReply, Session, type SessionOptions } from './ort.ts';
import { acquireFileTensor } from './file-tensors.ts';
import { PinStore, type WireTensor } from './pinned-feeds.ts';
import type { TensorInfo } from './safetensors.ts';

const pins = new PinStore();

const sessions = new Map<number, Session>();

export async function create(
  id: number,
  model: Uint8Array,
  options: SessionOptions,
): Promise<{ inputNames: readonly string[]; outputNames: readonly string[] }> {
  const s = await Session.create(model, { ...options, inWorker: false });
  sessions.set(id, s);
  return { inputNames: [...s.inputNames], outputNames: [...s.outputNames] };
}

/**
 * Runs a session. Its outputs move back, and so do the feeds named in `lent` and the outputs in
 * `into` (moved here by the caller; the run writes into those), also when the run fails.
 */
export async function run(
  id: number,
  wire: Record<string, WireTensor>,
  fetch?: string[],
  lent: string[] = [],
  into: Record<string, HostTensor> = {},
): Promise<RunReply> {
  let out: Record<string, HostTensor> = {};
  let error: string | undefined;
  let feeds: Record<string, HostTensor> = {};
  try {
    feeds = pins.resolve(wire);
    out = await sessions.get(id)!.run(feeds, into, fetch);
  } catch (e) {
    error = (e as Error).message;
  }
  const back = Object.fromEntries(lent.map((n) => [n, (feeds[n] ?? wire[n]).data!]));
  const intoBack = Object.fromEntries(Object.entries(into).map(([n, t]) => [n, t.data]));
  const buffers = [...Object.values(out).map((t) => t.data), ...Object.values(back), ...Object.values(intoBack)].map(
    (d) => d.buffer as ArrayBuffer,
  );
  return withTransfer({ out, back, into: intoBack, ...(error === undefined ? {} : { error }) }, [...new Set(buffers)]);
}

/** Drops what the worker holds of a pinned feeds' owner (collected on the caller's side). */
export function unpin(owner: number): void {
  pins.drop(owner);
}

/** Bytes of pinned feeds held here. */
export function pinnedBytes(): number {
  return pins.bytes();
}

/** Reads a file input here and holds it for a SessionCache until releaseFileTensor. */
export function holdFileTensor(info: TensorInfo): void {
  acquireFileTensor(info);
}

export { releaseFileTensor } from './file-tensors.ts';

export async function release(id: number): Promise<void> {
  await sessions.get(id)?.release();
  sessions.delete(id);
}
