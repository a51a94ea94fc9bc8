// What the bootstrap peer says about the peers it serves: a line when one connects or goes (its id shortened,
// its address) and, every few minutes, how many are connected; JSON events instead with --json. A churn of
// peers (fresh identities connecting by the thousand) is said in one line a minute past the first few.
import type { PeerId } from '@libp2p/interface';
import type { PeerHost } from '../node/protocol/host.ts';
import { shortId } from '../node/util/short-id.ts';

/** How often the bootstrap peer says how many peers are connected. */
const COUNT_EVERY_MS = 5 * 60_000;
/** Connects and disconnects said one by one in a minute; the rest are counted in one line at its end. */
export const CHURN_LIMIT = { lines: 30, everyMs: 60_000 };

/** Logs peers connecting and going, and their count (every `countEveryMs`), until the returned function is called. */
export function logPeers(
  host: PeerHost,
  json: boolean,
  write: (line: string) => void,
  limit = CHURN_LIMIT,
  countEveryMs = COUNT_EVERY_MS,
): () => void {
  const libp2p = host.libp2p;
  const count = () => libp2p.getPeers().length;
  const say = (event: Record<string, unknown>, text: string) => {
    const time = new Date().toISOString();
    write(json ? JSON.stringify({ ...event, time }) : `${time} ${text}`);
  };
  let shown = 0;
  let unshown = 0;
  const flush = () => {
    if (unshown)
      say(
        { event: 'peers', connected: count(), unshown },
        `${unshown} more peer${unshown === 1 ? '' : 's'} connected or gone in ${limit.everyMs / 1000} s (${count()} connected)`,
      );
    [shown, unshown] = [0, 0];
  };
  const churn = (event: Record<string, unknown>, text: string) => {
    if (shown < limit.lines) {
      shown++;
      say(event, text);
    } else unshown++;
  };
  const onConnect = (evt: CustomEvent<PeerId>) => {
    const peer = evt.detail.toString();
    const address = libp2p.getConnections(evt.detail)[0]?.remoteAddr.toString() ?? 'an unknown address';
    churn(
      { event: 'peer:connect', peer, address, connected: count() },
      `peer ${shortId(peer)} connected from ${address} (${count()} connected)`,
    );
  };
  const onGone = (evt: CustomEvent<PeerId>) => {
    const peer = evt.detail.toString();
    churn({ event: 'peer:disconnect', peer, connected: count() }, `peer ${shortId(peer)} gone (${count()} connected)`);
  };
  libp2p.addEventListener('peer:connect', onConnect);
  libp2p.addEventListener('peer:disconnect', onGone);
  const timer = setInterval(() => {
    const n = count();
    say({ event: 'peers', connected: n }, `${n} peer${n === 1 ? '' : 's'} connected`);
  }, countEveryMs);
  const minute = setInterval(flush, limit.everyMs);
  timer.unref();
  minute.unref();
  return () => {
    clearInterval(timer);
    clearInterval(minute);
    libp2p.removeEventListener('peer:connect', onConnect);
    libp2p.removeEventListener('peer:disconnect', onGone);
  };
}
