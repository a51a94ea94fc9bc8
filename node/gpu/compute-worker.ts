// Runs compute in a worker_threads worker so the peer's event loop never stalls: onnxruntime's
// session.run blocks its thread for the whole step. The worker (compute-worker-entry.ts, the server)
// imports a *handler module* (any module of functions) and serves calls to its exports in order; this
// client is typed by that module, so a call names an export and passes its arguments. Typed arrays
// cross by transfer, not copy: the caller names what to transfer, and a handler wraps a result in
// `withTransfer` to hand its buffers back.
import { Worker } from 'node:worker_threads';
import { WorkerCrashedError } from './errors.ts';

const TRANSFER = Symbol.for('sat-peer.transfer');

/** A handler's result whose ArrayBuffers move to the caller instead of being copied. */
export interface Transferring<T> {
  [TRANSFER]: true;
  value: T;
  buffers: ArrayBuffer[];
}

export function withTransfer<T>(value: T, buffers: ArrayBuffer[]): T {
  return { [TRANSFER]: true, value, buffers } as unknown as T;
}

export function isTransferring(x: unknown): x is Transferring<unknown> {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[TRANSFER] === true;
}

/** Messages between the two sides. */
export type Request = { id: number; method: string; args: unknown[] };
export type Reply = { id: number; result?: unknown; error?: { name: string; message: string; stack?: string } };

/** A handler module's exports: what a worker serves, by name. */
// biome-ignore lint/suspicious/noExplicitAny: the handlers' argument types are each handler's own.
export type Handlers = Record<string, (...args: any[]) => unknown>;

/** Every pending call rejects with the same error when the worker is gone. */
type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class ComputeWorker<H extends Handlers = Handlers> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private dead: Error | undefined;
  private weak = false;

  private constructor(
    private readonly worker: Worker,
    readonly name: string,
  ) {
    worker.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (err: unknown) =>
      this.fail(
        new WorkerCrashedError(`compute worker '${name}' crashed: ${err instanceof Error ? err.message : String(err)}`),
      ),
    );
    worker.on('exit', (code) => this.fail(new WorkerCrashedError(`compute worker '${name}' exited with code ${code}`)));
  }

  /** Starts a worker serving the exports of `handler` (a module URL). */
  static async start<H extends Handlers = Handlers>(
    handler: URL,
    options: { name?: string } = {},
  ): Promise<ComputeWorker<H>> {
    const name = options.name ?? handler.pathname.split('/').pop()!;
    // A plain-JS boot module registers tsx in the worker, then loads the TypeScript entry.
    const worker = new Worker(new URL('./compute-worker-boot.js', import.meta.url), {
      workerData: { handler: handler.href },
      name,
    });
    const cw = new ComputeWorker<H>(worker, name);
    await cw.send('__ready', []);
    return cw;
  }

  /** Calls the handler's export `method`; the ArrayBuffers in `transfer` move to the worker. */
  call<K extends keyof H & string>(
    method: K,
    args: Parameters<H[K]>,
    transfer: ArrayBuffer[] = [],
  ): Promise<Awaited<ReturnType<H[K]>>> {
    return this.send(method, args, transfer) as Promise<Awaited<ReturnType<H[K]>>>;
  }

  private send(method: string, args: unknown[], transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.weak) this.worker.ref();
      try {
        this.worker.postMessage({ id, method, args } satisfies Request, transfer);
      } catch (e) {
        // A DOMException (DataCloneError) is not an Error on Node 20: rethrow it as one.
        this.pending.delete(id);
        const err = new Error(`the arguments of '${method}' cannot be sent to the worker: ${(e as Error).message}`);
        err.name = (e as Error).name;
        reject(err);
      }
    });
  }

  private settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.weak && this.pending.size === 0) this.worker.unref();
    if (!reply.error) return p.resolve(reply.result);
    const err = new Error(reply.error.message);
    err.name = reply.error.name;
    if (reply.error.stack) err.stack = reply.error.stack;
    p.reject(err);
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  /** Lets the process exit while the worker is idle (calls pending still hold it). */
  unref(): void {
    this.weak = true;
    if (this.pending.size === 0) this.worker.unref();
  }

  /** Stops the worker; calls still pending reject. */
  async close(): Promise<void> {
    this.fail(new WorkerCrashedError(`compute worker '${this.name}' was closed`));
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
