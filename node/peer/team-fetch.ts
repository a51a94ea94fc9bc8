// A team joined by its id alone (`sat-peer start --team <team id>`): its manifest and its
// data sets are blocks named by CID. Every peer keeps them pinned in its block store; a peer that
// lacks one — it has only the team id, or the team file names a data set not on this machine —
// fetches it from the team's peers (found through the DHT), its hash checked on arrival.
import fs from 'node:fs';
import path from 'node:path';
import type { CID } from 'multiformats/cid';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { sleep } from '../util/until.ts';
import { InputError } from '../agent/errors.ts';
import { type TeamFile, readTeamFile, writeTeamFile } from './manifest.ts';
import { localUri } from './team-paths.ts';
import { MAX_BLOCK_BYTES } from '../protocol/blocks.ts';
import { cidFromBytes, cidFromString, contentId } from '../protocol/cid.ts';
import { type Dataset, MAX_BYTES, decodeTeamManifest, encodeTeamManifest } from '../protocol/codec.ts';
import type { PeerHost } from '../protocol/host.ts';

/** How long a peer looks for the team's peers to fetch a block from. */
export const FETCH_WAIT_MS = 120_000;

export class TeamFetchError extends Error {
  override name = 'TeamFetchError';
}

/** Whether `spec` names a team by id (a CID) rather than a team file. */
export const isTeamId = (spec: string): boolean => !fs.existsSync(spec) && cidFromString(spec) !== undefined;

/**
 * The team `spec` names: a team file, or a team id whose manifest comes from the team's peers and is
 * written to `<dataDir>/team.yaml` (the caller looks for the team's peers meanwhile).
 */
export async function teamFileFor(
  spec: string,
  host: PeerHost,
  dataDir: string,
  log: (line: string) => void,
  waitMs = FETCH_WAIT_MS,
): Promise<TeamFile> {
  if (fs.existsSync(spec)) return readTeamFile(spec);
  const cid = cidFromString(spec);
  if (!cid) throw new InputError(`--team ${spec}: no such team file, and not a team id (a CID such as bafkrei...)`);
  const bytes = await fetchFromTeam(host, cid, "the team's manifest", MAX_BYTES.TeamManifest, log, waitMs);
  const d = decodeTeamManifest(bytes, { team: spec });
  if (!d.ok)
    throw new TeamFetchError(
      `the manifest of team ${spec} that a peer sent is no valid manifest (${d.field} is ${d.reason})`,
    );
  const file = path.join(dataDir, 'team.yaml');
  writeTeamFile(file, d.message);
  log(`team ${spec}: manifest fetched from its peers, written to ${file}`);
  return readTeamFile(file);
}

/**
 * A local file holding the data set `d`: the file its `uri` names (relative to the team file's folder `dir`) when that
 * has the set's CID, else a copy fetched from the team's peers into `<dataDir>/data`.
 */
export async function teamDataset(
  d: Dataset,
  dir: string,
  host: PeerHost,
  dataDir: string,
  log: (line: string) => void,
  waitMs = FETCH_WAIT_MS,
): Promise<string> {
  const cid = cidFromBytes(d.cid!)!;
  // Only a regular file is read: a fetched manifest's `uri` may name a device or a pipe (`../../dev/zero`).
  const holds = (file: string) =>
    fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true && contentId(fs.readFileSync(file)).equals(cid);
  const named = localUri(dir, d.uri);
  if (named && holds(named)) return named;
  const file = path.join(dataDir, 'data', `${cid}${path.extname(d.name)}`);
  if (holds(file)) return file;
  const bytes = await fetchFromTeam(host, cid, `the data set ${d.name}`, MAX_BLOCK_BYTES, log, waitMs);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, bytes);
  log(`${d.name}: not on this machine${named ? ` at ${named}` : ''}; fetched from the team's peers into ${file}`);
  return file;
}

/**
 * Keeps the team's manifest and data set files in this peer's block store for as long as it runs, for peers that lack
 * them.
 */
export function serveTeam(host: PeerHost, team: TeamFile, files: readonly string[]): void {
  host.blocks.store.put(encodeTeamManifest(team.manifest), true);
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    if (bytes.length <= MAX_BLOCK_BYTES) host.blocks.store.put(bytes, true);
  }
}

/** The block `cid` from whichever connected peer has it, asking each in turn until one does (or `waitMs` passes). */
async function fetchFromTeam(
  host: PeerHost,
  cid: CID,
  what: string,
  maxBytes: number,
  log: (line: string) => void,
  waitMs: number,
): Promise<Uint8Array> {
  const until = Date.now() + waitMs;
  let said = 0;
  for (;;) {
    const peers = host.libp2p.getPeers();
    for (const peer of peers) {
      try {
        return await host.blocks.fetch(peer, cid, { maxBytes, keep: false });
      } catch {
        // not there (a bootstrap peer, a peer of another team), or gone: ask the next
      }
    }
    if (Date.now() > until)
      throw new TeamFetchError(
        `no peer had ${what} (${cid}) within ${Math.round(waitMs / 1000)} s: check --bootstrap, or pass the team file`,
      );
    if (Date.now() - said > 10_000) {
      log(`looking for ${what} (${cid}) among the team's peers (${peers.length} connected)`);
      said = Date.now();
    }
    await sleep(1000);
  }
}
