// What the bootstrap peer says about the peers it serves: a line when one connects or goes (its id shortened,
// its address) and, every few minutes, how many are connected; JSON events instead with --json.
import type { PeerId } from '@libp2p/interface';
import type { PeerHost } from '../node/protocol/host.ts';

/** How often the bootstrap peer says how many peers are connected. */
const COUNT_EVERY_MS = 5 * 60_000;

/** `12D3KooW…x7Fq2a`: enough of a peer id to tell peers apart in a log. */
export const shortId = (id: string): string => (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id);

/** Logs peers connecting and going, and their count, until the returned function is called. */
export function logPeers(host: PeerHost, json: boolean, write: (line: string) => void): () => void {
  const libp2p = host.libp2p;
  const count = () => libp2p.getPeers().length;
  const say = (event: Record<string, unknown>, text: string) => {
    const time = new Date().toISOString();
    write(json ? JSON.stringify({ ...event, time }) : `${time} ${text}`);
  };
  const onConnect = (evt: CustomEvent<PeerId>) => {
    const peer = evt.detail.toString();
    const address = libp2p.getConnections(evt.detail)[0]?.remoteAddr.toString() ?? 'an unknown address';
    say(
      { event: 'peer:connect', peer, address, connected: count() },
      `peer ${shortId(peer)} connected from ${address} (${count()} connected)`,
    );
  };
  const onGone = (evt: CustomEvent<PeerId>) => {
    const peer = evt.detail.toString();
    say({ event: 'peer:disconnect', peer, connected: count() }, `peer ${shortId(peer)} gone (${count()} connected)`);
  };
  libp2p.addEventListener('peer:connect', onConnect);
  libp2p.addEventListener('peer:disconnect', onGone);
  const timer = setInterval(
    () => say({ event: 'peers', connected: count() }, `${count()} peers connected`),
    COUNT_EVERY_MS,
  );
  timer.unref();
  return () => {
    clearInterval(timer);
    libp2p.removeEventListener('peer:connect', onConnect);
    libp2p.removeEventListener('peer:disconnect', onGone);
  };
}
