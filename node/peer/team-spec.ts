// What `sat-peer start --team` names: a team file (sat-peer team create), or a team id — the manifest's CID,
// whose manifest comes from the team's peers (team-fetch.ts).
import fs from 'node:fs';
import { InputError } from '../agent/errors.ts';
import { cidFromString } from '../protocol/cid.ts';
import { type TeamFile, readTeamFile } from './manifest.ts';

/** The team `spec` names: its id, and its file when `spec` is a team file (else the id is `spec` itself). */
export function teamSpec(spec: string): { id: string; file?: TeamFile } {
  if (fs.existsSync(spec)) {
    const file = readTeamFile(spec);
    return { id: file.id, file };
  }
  if (cidFromString(spec)) return { id: spec };
  throw new InputError(
    `no team file or team id "${spec}": no such file, and not a team id (a CID such as bafkrei...); ` +
      'give the file sat-peer team create wrote, or the team id it printed',
  );
}
