// What the protocol tests share: waiting on a condition that real peers reach asynchronously.
import { until as poll } from '../../node/util/until.ts';

/** Resolves once `ok()` holds (polled every 10 ms); throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  if (!(await poll(ok, { every: 10, timeoutMs: ms }))) throw new Error(`timed out waiting for ${what}`);
}
