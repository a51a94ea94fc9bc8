// The peers this peer was connected to, kept across runs in `<dataDir>/peers.json`, so that a restart
// can rejoin the team even when every bootstrap peer is down.
import fs from 'node:fs';
import path from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { writeFileAtomic } from '../util/atomic-file.ts';

export const KNOWN_PEERS_FILE = 'peers.json';
/** Only the most recent ones are kept. */
export const MAX_KNOWN_PEERS = 64;

/** The dialable addresses (with /p2p/<id>) saved by the last run; none when the file is absent or unreadable. */
export function loadKnownPeers(dataDir: string): string[] {
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, KNOWN_PEERS_FILE), 'utf8')) as { peers?: unknown };
    return Array.isArray(saved.peers)
      ? saved.peers.filter((p): p is string => typeof p === 'string' && p.includes('/p2p/')).slice(0, MAX_KNOWN_PEERS)
      : [];
  } catch {
    return []; // a first run, or a damaged file that the next save replaces
  }
}

/**
 * Saves the addresses this peer dialed and is connected to now (an inbound connection's address is an ephemeral
 * port).
 */
export function saveKnownPeers(dataDir: string, libp2p: Libp2p): void {
  const peers = [
    ...new Set(
      libp2p
        .getConnections()
        .filter((c) => c.direction === 'outbound')
        .map((c) => {
          const addr = c.remoteAddr.toString();
          return addr.includes('/p2p/') ? addr : `${addr}/p2p/${c.remotePeer}`;
        }),
    ),
  ].slice(0, MAX_KNOWN_PEERS);
  writeFileAtomic(path.join(dataDir, KNOWN_PEERS_FILE), `${JSON.stringify({ peers }, null, 1)}\n`);
}
