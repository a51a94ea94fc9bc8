// The handlers of the session worker (compute-worker.ts): onnxruntime sessions built and run on the
// worker's thread, by id, for WorkerSession in ort.ts. Outputs move back by transfer.
import { withTransfer } from './compute-worker.ts';
import { type HostTensor, Session, type SessionOptions } from './ort.ts';

const sessions = new Map<number, Session>();

export async function create(id: number, model: Uint8Array, options: SessionOptions): Promise<{ inputNames: readonly string[]; outputNames: readonly string[] }> {
  const s = await Session.create(model, { ...options, inWorker: false });
  sessions.set(id, s);
  return { inputNames: [...s.inputNames], outputNames: [...s.outputNames] };
}

/** Runs a session; its outputs, and the feeds named in `lent` (moved here by the caller), move back. */
export async function run(id: number, feeds: Record<string, HostTensor>, fetch?: string[], lent: string[] = []): Promise<{ out: Record<string, HostTensor>; back: Record<string, HostTensor['data']> }> {
  const out = await sessions.get(id)!.run(feeds, {}, fetch);
  const back = Object.fromEntries(lent.map((n) => [n, feeds[n].data]));
  const buffers = [...Object.values(out).map((t) => t.data), ...Object.values(back)].map((d) => d.buffer as ArrayBuffer);
  return withTransfer({ out, back }, [...new Set(buffers)]);
}

export async function release(id: number): Promise<void> {
  await sessions.get(id)?.release();
  sessions.delete(id);
}
