// A peer joining its team (docs/design §5.1): its identity and libp2p host, the team file (here, or fetched
// by team id), the team's data sets, its slot's agent as it last saved it, the PeerLink to the other
// slots, and its claim on the roster.
import fs from 'node:fs';
import path from 'node:path';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import type { Agent } from '../agent/agent.ts';
import { InputError } from '../agent/errors.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { loadTokenizer } from '../agent/model/tokenizer.ts';
import type { SatConfig } from '../config/load.ts';
import type { SessionOptions } from '../gpu/ort.ts';
import { cidFromString } from '../protocol/cid.ts';
import { Admission } from '../protocol/codec.ts';
import { ClaimError } from '../protocol/errors.ts';
import { PeerHost } from '../protocol/host.ts';
import { loadOrCreateIdentity } from '../protocol/identity.ts';
import { loadKnownPeers } from '../protocol/known-peers.ts';
import { Roster } from '../protocol/roster.ts';
import { TeamDiscovery } from '../protocol/team-discovery.ts';
import type { StageRecord } from '../sat/stage.ts';
import { type LoopTeam, unloggedStage } from '../sat/stage-loop.ts';
import { formatOf, makeAgent, runSeed } from '../sat/team.ts';
import { latestStageFolder, restoreSlot, savedStage } from '../sat/checkpoints.ts';
import { type Problem, loadDataset } from '../tasks/dataset.ts';
import { type TeamFile, allowed, readTeamFile } from './manifest.ts';
import { type StagePlan, stagePlan } from './micro-batch.ts';
import { PeerChunks } from './peer-chunks.ts';
import { SlotStates } from './slot-states.ts';
import { StageDigests } from './stage-digests.ts';
import type { PeerInit } from './peer.ts';
import type { Followed } from './replica.ts';
import { PeerLink } from './peer-link.ts';
import { fetchWeights, offerWeights } from './update-weights.ts';
import { Attestations } from '../protocol/attestations.ts';
import { adversaryHooks } from './adversary-hooks.ts';
import { checkSlot, checkUpgradeStage, freeSlot, slotFits } from './slot-choice.ts';
import { isTeamId, serveTeam, teamDataset, teamFileFor } from './team-fetch.ts';
import { othersStages, teamStage } from './team-wait.ts';

/** How often a peer announces itself in the DHT and looks for the team's other peers. */
const DISCOVERY_MS = 3_000;

/** A peer that has joined its team: what its stages, its catch-up and its hand-over work with. */
export interface JoinedPeer {
  init: PeerInit & { log: (line: string) => void };
  host: PeerHost;
  discovery: TeamDiscovery;
  /** The team id (the manifest's CID). */
  teamId: string;
  slot: number;
  cfg: SatConfig;
  roster: Roster;
  link: PeerLink;
  /** The team as this peer runs it: its own slot's agent, the others' undefined. */
  team: LoopTeam;
  test: readonly Problem[];
  agent: Agent;
  /** The last stage this peer saved (0 before the first). */
  saved: number;
  /** The record of the last saved stage when its row was never logged: its evaluation was cut short. */
  unlogged?: StageRecord;
  /** The stage a newcomer takes its slot over at, until it has saved a stage of its own. */
  upgradeAt?: number;
  /** Its micro-batch and the memory planned for it. */
  plan: StagePlan;
  /** Its chunked states: an agent's tensors handed over, the slots' saved states. */
  chunks: PeerChunks;
  /** The team's slot states: this slot's offered, the others' copied. */
  states: SlotStates;
  /** The chain of stage digests: this peer's, and the others' compared with it. */
  digests: StageDigests;
  /** The replicas' word on updates: this peer's, and those it hears (docs/design §4.16). */
  attestations: Attestations;
  /** Lets the data dir go (data-dir-lock.ts). */
  unlock: () => void;
  /** The last stage this peer followed as a replica of its slot (replica.ts), until it took the trainer's state. */
  followed?: Followed;
}

/**
 * A peer's session options: on a worker thread, so the network loop keeps ticking through steps of
 * seconds.
 */
export const sessionOf = (init: PeerInit): SessionOptions => ({
  inWorker: true,
  ...(init.threads ? { threads: init.threads } : {}),
  ...(init.device ? { device: init.device } : {}),
});

export async function joinTeam(options: PeerInit): Promise<JoinedPeer> {
  const init = { ...options, log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)) };
  const { log } = init;
  if (init.upgradeAt !== undefined && init.slot === undefined)
    throw new InputError('--upgrade-at needs --slot: the slot to take over');
  // A team file is checked before anything starts; a team id needs the network to fetch its manifest.
  const local = isTeamId(init.teamFile) ? undefined : readTeamFile(init.teamFile);
  const tokenizer = loadTokenizer(init.model);
  if (local) checkSlot(local, init.slot, init.model, tokenizer.hash);

  const unlock = lockDataDir(init.dataDir);
  let host: PeerHost;
  let privateKey: PrivateKey;
  try {
    ({ privateKey } = await loadOrCreateIdentity(init.dataDir));
    host = await PeerHost.start({
      privateKey,
      listen: init.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      announce: init.announce ?? [],
      ...(init.nat ? { nat: true } : {}),
      bootstrap: init.bootstrap ?? [],
      known: loadKnownPeers(init.dataDir),
      log,
    });
  } catch (err) {
    unlock();
    throw err;
  }
  const discovery = new TeamDiscovery(host, cidFromString(local?.id ?? init.teamFile)!, DISCOVERY_MS);
  // What has started, stopped in reverse when a later step refuses to join: the process then exits.
  const started: (() => unknown)[] = [unlock, () => host.stop(), () => discovery.stop()];
  try {
    discovery.start();
    const file = local ?? (await teamFileFor(init.teamFile, host, init.dataDir, log));
    if (!local) checkSlot(file, init.slot, init.model, tokenizer.hash);
    checkAdmission(file, host);
    const slots = file.manifest.slots;
    const chunks = await PeerChunks.start(host, file.id, init.dataDir);
    started.push(() => chunks.stop());
    const cfg = await teamConfig(file, host, init);
    const train = await loadDataset(cfg.dataset.trainPath!, cfg.dataset.type);
    const format = formatOf(tokenizer, cfg);
    const plan = stagePlan(cfg, init, train, format, slots.length, log);
    const digests = new StageDigests(init.dataDir, file.id, log, () => roster.stage);
    const said = adversaryHooks().heartbeat;
    const roster = new Roster(host, {
      team: file.id,
      manifest: file.manifest,
      dataDir: init.dataDir,
      ...(said ? { said } : {}),
      ...(adversaryHooks().claim ? { claimed: adversaryHooks().claim } : {}),
      onDigest: (peer, stage, digest) => digests.hear(peer, stage, digest),
    });
    const latest = digests.latest();
    if (latest) roster.setDigest(latest.stage, latest.bytes);
    roster.start();
    started.push(() => roster.stop());
    const { slot, replica } =
      init.slot !== undefined
        ? { slot: init.slot, replica: undefined }
        : await freeSlot(
            roster,
            slots.length,
            (s) => slotFits(file, s, tokenizer.hash),
            (s) => roster.claim(s, slots[s].family, slots[s].tokenizer!),
            host.peerId,
          );

    const { agent, saved } = savedAgent(cfg, slot, init, plan.microBatch);
    started.push(() => agent.release());
    await agent.loadWeights(init.onLoadWeights);
    // A newcomer claims the slot from its stage on; once it has saved a stage it holds it like any peer.
    const upgradeAt = init.upgradeAt !== undefined && !saved ? init.upgradeAt : undefined;
    const attestations = new Attestations(host, { team: file.id, slots: slots.length, privateKey });
    attestations.start();
    started.push(() => attestations.stop());
    const link = peerLink({ init, host, roster, file, cfg, slot, upgradeAt, chunks, attestations, digests });
    started.push(() => link.stop());
    await link.start();
    const isMember = (peer: PeerId) => slots.some((_, s) => roster.claimants(s).some((c) => c.equals(peer)));
    const stageOfTeam = () => Math.max(roster.stage, teamStage(roster, host.peerId));
    const states = new SlotStates({ host, team: file.id, cfg, slot, chunks, isMember, teamStage: stageOfTeam, log });
    states.start();
    started.push(() => states.stop());
    if (upgradeAt !== undefined) await checkUpgradeStage(roster, slots.length, upgradeAt);
    await roster.claim(slot, slots[slot].family, slots[slot].tokenizer!, upgradeAt);
    const team = {
      runSeed: runSeed(cfg),
      agents: slots.map((_, s) => (s === slot ? agent : undefined)),
      format,
      train,
      workflow: cfg.team.workflow,
    };
    const test = cfg.dataset.testPath ? await loadDataset(cfg.dataset.testPath, cfg.dataset.type) : [];
    const name = `slot ${slot} ('${cfg.sat.agents[slot].name}')`;
    // With --slot, whether another peer holds the slot shows once the roster has heard it (at the first stage).
    const trainer = roster.holder(slot);
    const holds =
      upgradeAt !== undefined
        ? `takes ${name} over from stage ${upgradeAt}`
        : trainer && !trainer.equals(host.peerId)
          ? `is a replica of ${name} behind its trainer ${trainer}: it keeps the slot's state, checks its updates ` +
            'and takes over if the trainer goes'
          : replica === false
            ? `holds ${name}`
            : `claims ${name}`;
    log(`sat-peer ${host.peerId} ${holds} of team ${file.id}${saved ? `, resuming after stage ${saved.stage}` : ''}`);
    const unlogged = unloggedStage(cfg, saved?.stage ?? 0);
    return {
      init,
      host,
      discovery,
      teamId: file.id,
      slot,
      cfg,
      roster,
      link,
      team,
      test,
      agent,
      saved: saved?.stage ?? 0,
      ...(unlogged ? { unlogged } : {}),
      ...(upgradeAt !== undefined ? { upgradeAt } : {}),
      plan,
      chunks,
      states,
      digests,
      attestations,
      unlock,
    };
  } catch (err) {
    for (const stop of started.reverse()) await stop();
    throw err;
  }
}

/**
 * The team's config as this peer runs it: its data sets here, or fetched from the team's peers (and served on to
 * peers that lack them), and its checkpoints and stage log in the peer's data dir.
 */
async function teamConfig(file: TeamFile, host: PeerHost, init: JoinedPeer['init']): Promise<SatConfig> {
  const trainPath = await teamDataset(file.manifest.dataset!, file.dir, host, init.dataDir, init.log);
  const testPath =
    file.manifest.test && (await teamDataset(file.manifest.test, file.dir, host, init.dataDir, init.log));
  serveTeam(host, file, [trainPath, ...(testPath ? [testPath] : [])]);
  const cfg: SatConfig = {
    ...file.cfg,
    dataset: { ...file.cfg.dataset, trainPath, testPath: testPath ?? file.cfg.dataset.testPath },
    logging: { ...file.cfg.logging, saveDir: init.dataDir },
  };
  return adversaryHooks().config?.(cfg) ?? cfg;
}

/** This slot's agent, as this peer last saved it (on the model an upgrade put there), with that stage. */
function savedAgent(
  cfg: SatConfig,
  slot: number,
  init: PeerInit,
  microBatch: number,
): { agent: Agent; saved?: { stage: number; model: string } } {
  const folder = latestStageFolder(cfg);
  const saved = folder ? savedStage(cfg, folder, slot) : undefined;
  const agent = makeAgent(cfg, slot, saved?.model ?? init.model, sessionOf(init), microBatch);
  try {
    if (folder) restoreSlot(cfg, folder, slot, agent, sessionOf(init));
  } catch (err) {
    void agent.release();
    throw err;
  }
  return { agent, ...(saved ? { saved } : {}) };
}

/** Refuses to join a team whose allowlist does not name this peer. */
function checkAdmission(file: TeamFile, host: PeerHost): void {
  const me = host.peerId.toString();
  if (file.manifest.admission === Admission.ALLOWLIST && !allowed(file.manifest).includes(me)) {
    throw new ClaimError(
      `this peer (${me}) is not on team ${file.id}'s allowlist: ask the team for a team file that admits it ` +
        `(sat-peer team create --allow ${me})`,
    );
  }
}

/** The link through which this peer's stages reach the other slots' peers, as the roster names them. */
function peerLink({
  init,
  host,
  roster,
  file,
  cfg,
  slot,
  upgradeAt,
  chunks,
  attestations,
  digests,
}: Pick<
  JoinedPeer,
  'init' | 'host' | 'roster' | 'cfg' | 'slot' | 'upgradeAt' | 'chunks' | 'attestations' | 'digests'
> & {
  file: TeamFile;
}): PeerLink {
  const replicas = (s: number, stage: number) => Math.max(0, roster.line(s, stage).length - 1);
  const slots = file.manifest.slots;
  const holders = (stage?: number) =>
    new Map(
      slots.flatMap((_, s): [number, PeerId][] => {
        const p = roster.holder(s, stage);
        return p ? [[s, p]] : [];
      }),
    );
  return new PeerLink(host, {
    team: file.id,
    slot,
    slots: slots.length,
    names: cfg.sat.agents.map((a) => a.name),
    turnsPerRollout: cfg.team.workflow === 'chain' ? slots.length : 1,
    peers: holders,
    // Members: the claimants (trainers and replicas, which share turns) of this stage and of the one before (an
    // incumbent hands over, a peer's last shards are fetched late).
    isMember: (p) =>
      slots.some((_, s) =>
        [roster.stage, roster.stage - 1].some((st) => roster.claimants(s, st).some((c) => c.equals(p))),
      ),
    ...(init.deadlineMs ? { deadlineMs: init.deadlineMs } : {}),
    ...(upgradeAt !== undefined ? { takeOverAt: upgradeAt } : {}),
    ...(init.onTurn ? { onTurn: init.onTurn } : {}),
    log: init.log,
    teamPast: (stage) => othersStages(roster, host.peerId).every((s) => s > stage),
    claims: (s, peer, stage) => roster.claimants(s, stage).some((c) => c.equals(peer)),
    // A claimant makes the slot's turns unless it is one of the slot's live replicas, behind its trainer (§4.16).
    makesTurns: (s, peer, stage) =>
      roster.claimants(s, stage).some((c) => c.equals(peer)) &&
      !roster
        .line(s, stage)
        .slice(1)
        .some((c) => c.equals(peer)),
    attestations,
    replicas,
    line: (s, stage) => {
      // The incumbent a newcomer takes the slot over from hands over and leaves (§4.12): it is no replica.
      const line = roster.line(s, stage);
      const from = line[0] && roster.upgradeFrom(s, line[0]);
      const incumbent = from !== undefined && from <= stage ? roster.holder(s, from - 1) : undefined;
      return incumbent ? line.filter((p) => !p.equals(incumbent)) : line;
    },
    seedOf: (stage) => digests.of(stage - 1),
    // Only a slot with replicas needs its trainer's new tensors: they check its update by them.
    offerWeights: async (stage, params) =>
      replicas(slot, stage) > 0 ? offerWeights(chunks, init.dataDir, slot, params) : undefined,
    // An update's policy tensors are float32: at most twice the model's own files, whose dtype may be bfloat16.
    fetchWeights: (cid, from) =>
      fetchWeights(chunks, init.dataDir, slot, cid, from, {
        maxBytes: 2 * modelBytes(init.model) + 2 ** 20,
        ...(cfg.training.lora ? { lora: cfg.training.lora } : {}),
      }),
    exclude: (peer, why, from) => {
      if (roster.exclude(peer, why, from))
        init.log(`excluded peer ${peer} from the team from stage ${from} on: ${why}`);
    },
  });
}

/** The bytes of the safetensors files of the model in `dir`. */
const modelBytes = (dir: string): number =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
