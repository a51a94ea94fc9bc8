// What `sat-peer team show` and `team create --check` print about a team: collected once, then printed as
// text lines or as one JSON object.
import fs from 'node:fs';
import { type TeamFile, allowed } from '../peer/manifest.ts';
import { localUri } from '../peer/team-paths.ts';
import { cidFromBytes } from '../protocol/cid.ts';
import { Admission, type Dataset, Workflow } from '../protocol/codec.ts';

/** A data set as the team names it, and where this machine has it (null: peers fetch it by CID). */
function dataset(team: TeamFile, d: Dataset) {
  const local = localUri(team.dir, d.uri);
  return {
    name: d.name,
    cid: cidFromBytes(d.cid!)!.toString(),
    uri: d.uri,
    path: local && fs.existsSync(local) ? local : null,
  };
}

export function teamSummary(team: TeamFile) {
  const { manifest: m, id, cfg } = team;
  return {
    id,
    name: m.name,
    workflow: m.workflow === Workflow.CHAIN ? 'chain' : 'ensemble',
    upgrades: m.upgrades,
    admission: m.admission === Admission.OPEN ? 'open' : 'allowlist',
    allow: allowed(m),
    slots: m.slots.map((s, i) => ({
      slot: i,
      role: s.role,
      family: s.family,
      tokenizer: Buffer.from(s.tokenizer!).toString('hex'),
    })),
    dataset: dataset(team, m.dataset!),
    test: m.test ? dataset(team, m.test) : null,
    stages: cfg.training.numStages,
    /** Each slot's model as this machine reads it: a folder (absolute), an embedded or a hub model's name. */
    models: cfg.sat.agents.map((a) => ({ path: a.path, upgrade: a.upgrade ?? null })),
  };
}

export type TeamSummary = ReturnType<typeof teamSummary>;

export function teamLines(s: TeamSummary): string[] {
  const where = (d: TeamSummary['dataset']) =>
    `${d.name} (${d.cid.slice(0, 16)}…) ${d.path ? `at ${d.path}` : "not on this machine: fetched from the team's peers"}`;
  return [
    `team ${s.id}: ${s.name}`,
    `  workflow ${s.workflow}, ${s.stages} stages, upgrades ${s.upgrades ? 'allowed' : 'refused'}, ` +
      `${s.admission === 'open' ? 'open to any peer' : `admits ${s.allow.length} peers: ${s.allow.join(', ')}`}`,
    ...s.slots.map(
      (x) =>
        `  slot ${x.slot}: ${x.role} (${x.family}, tokenizer ${x.tokenizer.slice(0, 12)}…, model ${s.models[x.slot].path})`,
    ),
    `  dataset ${where(s.dataset)}`,
    ...(s.test ? [`  test ${where(s.test)}`] : []),
  ];
}
