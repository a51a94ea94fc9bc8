// The compute worker's main: imports the handler module named in workerData and serves
// ComputeWorker calls to its exports, one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import { type Reply, type Request, isTransferring } from './compute-worker.ts';

const port = parentPort!;
const handlers = (await import(workerData.handler)) as Record<string, unknown>;
let queue = Promise.resolve();

async function serve({ id, method, args }: Request): Promise<void> {
  let reply: Reply;
  let transfer: ArrayBuffer[] = [];
  try {
    if (method === '__ready') {
      reply = { id, result: true };
    } else {
      const fn = handlers[method];
      if (typeof fn !== 'function') throw new TypeError(`the compute worker has no handler '${method}'`);
      const result = await fn(...args);
      if (isTransferring(result)) [reply, transfer] = [{ id, result: result.value }, result.buffers];
      else reply = { id, result };
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { id, error: { name: err.name, message: err.message, stack: err.stack } };
  }
  try {
    port.postMessage(reply, transfer);
  } catch (e) {
    port.postMessage({
      id,
      error: {
        name: 'DataCloneError',
        message: `the result of '${method}' cannot be sent back: ${(e as Error).message}`,
      },
    } satisfies Reply);
  }
}

port.on('message', (req: Request) => {
  queue = queue.then(() => serve(req));
});
