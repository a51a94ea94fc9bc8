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

export async function run(id: number, feeds: Record<string, HostTensor>, fetch?: string[]): Promise<Record<string, HostTensor>> {
  const out = await sessions.get(id)!.run(feeds, {}, fetch);
  return withTransfer(out, [...new Set(Object.values(out).map((t) => t.data.buffer as ArrayBuffer))]);
}

export async function release(id: number): Promise<void> {
  await sessions.get(id)?.release();
  sessions.delete(id);
}
