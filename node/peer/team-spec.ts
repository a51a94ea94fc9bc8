// What `sat-peer start --team` names: a team file (sat-peer team create), or a team id — the manifest's CID,
// whose manifest comes from the team's peers (team-fetch.ts).
import fs from 'node:fs';
import { InputError } from '../agent/errors.ts';
import { cidFromString } from '../protocol/cid.ts';
import { readTeamFile } from './manifest.ts';

/** The id of the team `spec` names: its file's manifest CID, or `spec` itself when it is a team id. */
export function teamIdOf(spec: string): string {
  if (fs.existsSync(spec)) return readTeamFile(spec).id;
  if (cidFromString(spec)) return spec;
  throw new InputError(
    `no team file or team id "${spec}": no such file, and not a team id (a CID such as bafkrei...); ` +
      'give the file sat-peer team create wrote, or the team id it printed',
  );
}
