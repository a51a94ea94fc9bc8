// Waiting on a condition that other processes bring about (a peer's heartbeat, a roster claim):
// polled, bounded in time, and cut short when the waiter is stopped.

export interface UntilOptions {
  /** Milliseconds between two checks (default 100). */
  every?: number;
  /** Gives up after this many milliseconds (default never). */
  timeoutMs?: number;
  /** Gives up once aborted (the waiter was stopped). */
  signal?: AbortSignal;
}

/**
 * Resolves true once `condition()` holds (checked at once, then every `every` ms, a last time at the timeout); false
 * when the time is up or `signal` aborts first. A condition that throws rejects with its error.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  { every = 100, timeoutMs = Infinity, signal }: UntilOptions = {},
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) return false;
    if (await condition()) return true;
    const left = end - Date.now();
    if (left <= 0 || signal?.aborted) return false;
    await sleep(Math.min(every, left), signal);
  }
}

/** Waits `ms` milliseconds, or until `signal` aborts (it resolves then too: the caller checks why it woke). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
