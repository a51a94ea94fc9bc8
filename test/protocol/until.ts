// What the protocol tests share: waiting on a condition that real peers reach asynchronously.

/** Resolves once `ok()` holds (polled every 10 ms); throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
