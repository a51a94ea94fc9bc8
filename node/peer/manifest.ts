// A team's manifest (docs/design §4.5; `sat-peer team create`): made from a SAT config, kept in
// a YAML team file that peers start from. The file holds the manifest's fields in readable form —
// tokenizer hashes in hex, the dataset's CID as a string, the algorithm config as a mapping — and the
// team id is the CID of the manifest they encode, so every peer reading the file derives the same one.
// The config must hold only known keys, and local files are named relative to the team file
// (node/peer/team-paths.ts), so the same team has the same id on any machine.
import fs from 'node:fs';
import path from 'node:path';
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id';
import * as Digest from 'multiformats/hashes/digest';
import YAML from 'yaml';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { InputError } from '../agent/errors.ts';
import { loadTokenizer } from '../agent/model/tokenizer.ts';
import { type SatConfig, loadConfig, parseConfig } from '../config/load.ts';
import { portableModel, relativeTo } from './team-paths.ts';
import { chatSlots } from '../tasks/chat-format.ts';
import { cidFromBytes, cidFromString, contentId } from '../protocol/cid.ts';
import {
  Admission,
  type Dataset,
  PROTOCOL_VERSION,
  type TeamManifest,
  Workflow,
  decodeTeamManifest,
  encodeTeamManifest,
  teamId,
} from '../protocol/codec.ts';

export interface TeamFile {
  manifest: TeamManifest;
  /** The team id: the manifest's CID. */
  id: string;
  /** The algorithm config the manifest carries, read like a config file in the team file's folder. */
  cfg: SatConfig;
  /** The team file's folder (absolute): the manifest's relative paths resolve against it. */
  dir: string;
}

export interface ManifestOptions {
  name?: string;
  /** Whether newcomers may claim a held slot with a stronger model (default true). */
  upgrades?: boolean;
  /**
   * The number of slots: the config's first agents, or all of them and then copies of the last (default: as many as
   * it names).
   */
  slots?: number;
  /** The team's seed, in place of the config's. */
  seed?: number;
  /** Peer ids (as peers print them) admitted to the team; none: an open team. */
  allow?: string[];
  /** The local folders of slots' models named by hub id or name (`Qwen/Qwen3-0.6B`): their tokenizers. */
  modelDirs?: ReadonlyMap<string, string>;
  /** The folder the team file goes to, which its paths are relative to (default: the config's folder). */
  teamDir?: string;
}

/** A peer id string as the manifest's bytes (its multihash). */
function peerIdBytes(id: string, what: string): Uint8Array<ArrayBuffer> {
  try {
    return peerIdFromString(id).toMultihash().bytes as Uint8Array<ArrayBuffer>;
  } catch {
    throw new InputError(`${what} '${id}' is not a peer id: give one as sat-peer start prints it (12D3KooW...)`);
  }
}

const peerIdText = (bytes: Uint8Array) => peerIdFromMultihash(Digest.decode(bytes)).toString();

/** The peer ids a team admits, as text (none for an open team). */
export const allowed = (m: TeamManifest): string[] => m.allow.map(peerIdText);

/** `agents` resized to `n`: the first n, or all and then copies of the last, named apart (`second-3`). */
function resized<T extends { name: string }>(agents: readonly T[], n: number): T[] {
  return Array.from({ length: n }, (_, i) =>
    i < agents.length ? agents[i] : { ...agents.at(-1)!, name: `${agents.at(-1)!.name}-${i + 1}` },
  );
}

/**
 * The manifest of the team `configFile` describes: its slots (each agent's tokenizer), workflow, config and training
 * set. A key the config's schema does not know is an UnknownConfigKeyError.
 */
export function manifestFromConfig(configFile: string, o: ManifestOptions = {}): TeamManifest {
  const cfg = loadConfig(configFile, { unknownKeys: 'error' });
  const raw = rawConfig(configFile);
  const dir = path.resolve(o.teamDir ?? path.dirname(path.resolve(configFile)));
  const sat = (raw.sat ?? {}) as Record<string, unknown>;
  if (o.slots !== undefined) {
    sat.agents = resized((sat.agents ?? []) as { name: string }[], o.slots);
    cfg.sat.agents = resized(cfg.sat.agents, o.slots);
  }
  if (o.seed !== undefined) raw.seed = o.seed;
  chatSlots(cfg.sat.agents, cfg.team.workflow); // refuses, before the team exists, a role with no prompt
  const agents = (sat.agents ?? []) as Record<string, unknown>[];
  // A model as the team file names it: an embedded one by name, a folder relative to it, a hub model as written.
  agents.forEach((a, i) => {
    a.path = portableModel(dir, cfg.sat.agents[i].path);
    if (typeof a.upgrade === 'string') a.upgrade = portableModel(dir, cfg.sat.agents[i].upgrade!);
  });
  delete (raw.logging as Record<string, unknown> | undefined)?.save_dir; // each peer keeps its own
  const { trainPath, testPath } = cfg.dataset;
  const data = raw.dataset as Record<string, unknown> | undefined;
  if (data && trainPath) data.train_path = relativeTo(dir, trainPath);
  if (data && testPath) data.test_path = relativeTo(dir, testPath);
  if (!trainPath || !fs.existsSync(trainPath))
    throw new InputError(`dataset.train_path of ${configFile} names no file: a team needs its training set`);
  if (testPath && !fs.existsSync(testPath))
    throw new InputError(
      `dataset.test_path of ${configFile} names no file: give the held-out set, or leave test_path out`,
    );
  const dataset = (file: string) => ({
    name: path.basename(file),
    cid: contentId(fs.readFileSync(file)).bytes,
    uri: relativeTo(dir, file),
  });
  return {
    version: PROTOCOL_VERSION,
    name: o.name ?? path.basename(configFile).replace(/\.(ya?ml|json)$/i, ''),
    slots: cfg.sat.agents.map((a) => ({
      role: a.name,
      family: 'qwen3',
      tokenizer: Buffer.from(loadTokenizer(o.modelDirs?.get(a.path) ?? a.path).hash, 'hex') as Uint8Array<ArrayBuffer>,
    })),
    workflow: cfg.team.workflow === 'chain' ? Workflow.CHAIN : Workflow.ENSEMBLE,
    config: JSON.stringify(raw),
    dataset: dataset(trainPath),
    ...(testPath ? { test: dataset(testPath) } : {}),
    admission: o.allow?.length ? Admission.ALLOWLIST : Admission.OPEN,
    allow: (o.allow ?? []).map((id) => peerIdBytes(id, '--allow')),
    upgrades: o.upgrades ?? true,
  };
}

function rawConfig(file: string): Record<string, unknown> {
  const text = fs.readFileSync(file, 'utf8');
  const value: unknown = file.toLowerCase().endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  return (value ?? {}) as Record<string, unknown>;
}

const datasetDoc = (d: Dataset) => ({ name: d.name, cid: cidFromBytes(d.cid!)!.toString(), uri: d.uri });

/** Writes the manifest as a team file (atomically); its id. */
export function writeTeamFile(out: string, m: TeamManifest): string {
  const id = teamId(m);
  const doc = {
    name: m.name,
    workflow: m.workflow === Workflow.CHAIN ? 'chain' : 'ensemble',
    admission: m.admission === Admission.OPEN ? 'open' : 'allowlist',
    ...(m.allow.length ? { allow: allowed(m) } : {}),
    upgrades: m.upgrades,
    slots: m.slots.map((s) => ({
      role: s.role,
      family: s.family,
      tokenizer: Buffer.from(s.tokenizer!).toString('hex'),
    })),
    dataset: datasetDoc(m.dataset!),
    ...(m.test ? { test: datasetDoc(m.test) } : {}),
    config: JSON.parse(m.config) as unknown,
  };
  writeFileAtomic(
    out,
    `# sat-peer team manifest; team id ${id}\n# peers join with: sat-peer start --team ${path.basename(out)} ` +
      `--model <name|dir>\n${YAML.stringify(doc)}`,
  );
  return id;
}

/** Reads a team file: its manifest (validated as any received manifest is), id and config. */
export function readTeamFile(file: string): TeamFile {
  const abs = path.resolve(file);
  let doc: Record<string, unknown>;
  try {
    doc = YAML.parse(fs.readFileSync(abs, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(
      `cannot read team file ${abs}: ` +
        `${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0]}`,
    );
  }
  const bad = (what: string) => new InputError(`team file ${abs}: ${what}; write one with sat-peer team create`);
  if (!doc || typeof doc !== 'object') throw bad('not a mapping');
  const slots = doc.slots as Record<string, string>[] | undefined;
  if (!Array.isArray(slots) || !doc.dataset || typeof doc.config !== 'object')
    throw bad('it needs slots, dataset and config');
  const dataset = (field: string): Dataset => {
    const d = doc[field] as Record<string, string>;
    const cid = cidFromString(String(d.cid ?? ''));
    if (!cid) throw bad(`${field}.cid '${d.cid}' is no CID`);
    return { name: String(d.name ?? ''), cid: cid.bytes as Uint8Array<ArrayBuffer>, uri: String(d.uri ?? '') };
  };
  const manifest: TeamManifest = {
    version: PROTOCOL_VERSION,
    name: String(doc.name ?? ''),
    slots: slots.map((s) => ({
      role: String(s.role ?? ''),
      family: String(s.family ?? ''),
      tokenizer: Buffer.from(String(s.tokenizer ?? ''), 'hex') as Uint8Array<ArrayBuffer>,
    })),
    workflow: doc.workflow === 'ensemble' ? Workflow.ENSEMBLE : Workflow.CHAIN,
    config: JSON.stringify(doc.config),
    dataset: dataset('dataset'),
    ...(doc.test ? { test: dataset('test') } : {}),
    admission: doc.admission === 'allowlist' ? Admission.ALLOWLIST : Admission.OPEN,
    allow: (Array.isArray(doc.allow) ? doc.allow : []).map((id, i) => {
      try {
        return peerIdBytes(String(id), `allow[${i}]`);
      } catch (err) {
        throw bad((err as Error).message);
      }
    }),
    upgrades: doc.upgrades !== false,
  };
  let bytes: Uint8Array;
  try {
    bytes = encodeTeamManifest(manifest);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const d = decodeTeamManifest(bytes);
  if (!d.ok) throw bad(`${d.field} is ${d.reason}`);
  return teamOf(manifest, abs);
}

/**
 * The team `manifest` makes, as a team file at `file` holds it: its id, and its config read with the file's folder
 * as base. The config is a contract every peer reads alike: a key it does not know is an UnknownConfigKeyError.
 */
export function teamOf(manifest: TeamManifest, file: string): TeamFile {
  const abs = path.resolve(file);
  const cfg = parseConfig(manifest.config, 'json', abs, { unknownKeys: 'error' });
  return { manifest, id: teamId(manifest), cfg, dir: path.dirname(abs) };
}
