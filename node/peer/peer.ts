// One peer of a network team: it hosts one slot's agent, joins the team's libp2p network,
// claims its slot on the roster, and runs the team's stages with the others — the same runStage as a
// local team, its remote slots reached through the PeerLink. Each stage ends with a row in the peer's
// stage_log.jsonl and a checkpoint of its slot in its data dir; a restarted peer resumes from there.
import fs from 'node:fs';
import path from 'node:path';
import type { PeerId } from '@libp2p/interface';
import type { Agent } from '../agent/agent.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { type ChainFormat, chainFormat } from '../tasks/chain.ts';
import { loadCheckpoint } from '../agent/model/checkpoint.ts';
import { type Problem, loadDataset } from '../tasks/dataset.ts';
import { InputError } from '../agent/errors.ts';
import { freezeParams, loadParams, saveParams } from '../agent/model/frozen-params.ts';
import { microBatchFor } from '../agent/memory-plan.ts';
import { availableMemory, gpuMemory } from '../gpu/device-memory.ts';
import { loadTokenizer } from '../agent/model/tokenizer.ts';
import type { SatConfig } from '../config/load.ts';
import {
  type StageEvalLink,
  type StageEvaluation,
  type StageRow,
  evalOptions,
  stageEvaluation,
  stageRow,
  teamAccuracy,
} from '../sat/evaluate.ts';
import type { Device, SessionOptions } from '../gpu/ort.ts';
import { type TeamFile, allowed, readTeamFile } from './manifest.ts';
import { PeerLink } from './peer-link.ts';
import { cidFromString } from '../protocol/cid.ts';
import { Admission } from '../protocol/codec.ts';
import { ClaimError } from '../protocol/errors.ts';
import { PeerHost } from '../protocol/host.ts';
import { loadOrCreateIdentity } from '../protocol/identity.ts';
import { loadKnownPeers, saveKnownPeers } from '../protocol/known-peers.ts';
import { Roster } from '../protocol/roster.ts';
import { blocksTopic } from '../protocol/shards.ts';
import { TeamDiscovery } from '../protocol/team-discovery.ts';
import { tokenTopic } from '../protocol/token-passing.ts';
import { type StageRecord, type StageTeam, runStage } from '../sat/stage.ts';
import { isTeamId, serveTeam, teamDataset, teamFileFor } from './team-fetch.ts';
import {
  appendStageLog,
  latestStageFolder,
  loggedStage,
  makeAgent,
  makeIncumbent,
  restoreSlot,
  saveStage,
  savedRecord,
  savedStage,
  runSeed,
  trimStageLog,
} from '../sat/team.ts';

export interface PeerInit {
  /** The team file (sat-peer team create). */
  teamFile: string;
  /** The checkpoint folder of this peer's model (resolved from --model). */
  model: string;
  /** The slot to claim (default: the first free one this model fits). */
  slot?: number;
  /** Identity, known peers, checkpoints and the stage log. */
  dataDir: string;
  listen?: string[];
  /** Addresses to advertise instead of the listening ones. */
  announce?: string[];
  /** Behind a NAT: reachable through a relay too, with autonat and hole punching. */
  nat?: boolean;
  bootstrap?: string[];
  threads?: number;
  /** Where the model runs (default the CPU). */
  device?: Device;
  /** Run up to this stage (default training.num_stages). */
  lastStage?: number;
  /** Token-passing deadline in ms. */
  deadlineMs?: number;
  /** Rollouts scored and trained on at once (default: as many as this machine's memory allows; 0: all). */
  microBatch?: number;
  /**
   * Bytes of memory this peer plans its stage with (default: MEMORY_SHARE of what the device has available); for
   * several peers on one machine.
   */
  memory?: number;
  /**
   * Take `slot` over from this stage on (plug-and-play): the incumbent hands its tensors over and this model enters
   * through Stage-0.
   */
  upgradeAt?: number;
  /** Hears this peer take the token in a stage (its update starts). */
  onTurn?: (stage: number, position: number) => void;
  /** Hears this peer start a stage's held-out evaluation (the stage is saved by then). */
  onEvaluate?: (stage: number) => void;
  log?: (line: string) => void;
}

/**
 * What a peer reports after each stage: its record and the row it logged (none for a new team's stage 0), the team's
 * greedy accuracy on the test set after it.
 */
export interface PeerStage {
  stage: number;
  record?: StageRecord;
  row?: StageRow;
  testAccuracy: number;
  seconds: number;
}

/** How long a new peer listens to the roster before choosing a free slot. */
const LISTEN_MS = 2_500;
/** How often a peer announces itself in the DHT and looks for the team's other peers. */
const DISCOVERY_MS = 3_000;
/** How long a peer that is done waits for the others to be done too. */
const LINGER_MS = 60_000;
/** How long a newcomer waits to hear every slot's peer before it claims one. */
const TEAM_WAIT_MS = 120_000;
/** How long a restarted peer listens to heartbeats before it decides where the team is. */
const CATCH_UP_MS = 4_000;
/** How long it listens for a sign that the team's stage is past its rollout (a complete rollout, an update). */
const ROLLOUT_WAIT_MS = 15_000;
/** The share of the available memory a peer plans to use (the estimate is approximate). */
const MEMORY_SHARE = 0.9;
/** How long an incumbent serves its tensors to the newcomer taking its slot over. */
const HANDOVER_MS = 300_000;

export class Peer {
  private stopped = false;

  private constructor(
    readonly host: PeerHost,
    /** The team id (the manifest's CID). */
    readonly teamId: string,
    readonly slot: number,
    readonly cfg: SatConfig,
    private readonly roster: Roster,
    private readonly discovery: TeamDiscovery,
    private readonly link: PeerLink,
    private readonly team: StageTeam & { workflow: SatConfig['team']['workflow'] },
    private readonly test: readonly Problem[],
    private readonly agent: Agent,
    /** The last stage done (0 before the first). */
    private done: number,
    private readonly init: PeerInit,
    /** The record of the last saved stage when its row was never logged: its evaluation was cut short. */
    private readonly unlogged?: StageRecord,
  ) {}

  static async start(init: PeerInit): Promise<Peer> {
    const log = init.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    // A team file is checked before anything starts; a team id needs the network to fetch its manifest.
    const local = isTeamId(init.teamFile) ? undefined : readTeamFile(init.teamFile);
    const tokenizer = loadTokenizer(init.model);
    if (local) checkSlot(local, init, tokenizer.hash);

    fs.mkdirSync(init.dataDir, { recursive: true });
    const { privateKey } = await loadOrCreateIdentity(init.dataDir);
    const host = await PeerHost.start({
      privateKey,
      listen: init.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      announce: init.announce ?? [],
      ...(init.nat ? { nat: true } : {}),
      bootstrap: [...(init.bootstrap ?? []), ...loadKnownPeers(init.dataDir)],
      log,
    });
    const discovery = new TeamDiscovery(host, cidFromString(local?.id ?? init.teamFile)!, DISCOVERY_MS);
    try {
      discovery.start();
      const file = local ?? (await teamFileFor(init.teamFile, host, init.dataDir, log));
      if (!local) checkSlot(file, init, tokenizer.hash);
      const me = host.peerId.toString();
      if (file.manifest.admission === Admission.ALLOWLIST && !allowed(file.manifest).includes(me)) {
        throw new ClaimError(
          `this peer (${me}) is not on team ${file.id}'s allowlist: ask the team for a team file that admits it ` +
            `(sat-peer team create --allow ${me})`,
        );
      }
      const slots = file.manifest.slots;
      const fits = (slot: number) => Buffer.from(slots[slot].tokenizer!).toString('hex') === tokenizer.hash;
      // The team's data sets: here, or fetched from its peers; served on to peers that lack them.
      const trainPath = await teamDataset(file.manifest.dataset!, host, init.dataDir, log);
      const testPath = file.manifest.test && (await teamDataset(file.manifest.test, host, init.dataDir, log));
      serveTeam(host, file, [trainPath, ...(testPath ? [testPath] : [])]);
      const cfg: SatConfig = {
        ...file.cfg,
        dataset: { ...file.cfg.dataset, trainPath, testPath: testPath ?? file.cfg.dataset.testPath },
        logging: { ...file.cfg.logging, saveDir: init.dataDir },
      };
      const train = loadDataset(trainPath);
      const micro = init.microBatch ?? microBatch(cfg, init, train, chainFormat(tokenizer), slots.length, log);
      const roster = new Roster(host, { team: file.id, manifest: file.manifest, dataDir: init.dataDir });
      roster.start();
      const slot = init.slot ?? (await freeSlot(roster, slots.length, fits));
      if (init.upgradeAt !== undefined && init.slot === undefined)
        throw new InputError('--upgrade-at needs --slot: the slot to take over');

      // This slot's agent, as this peer last saved it.
      const folder = latestStageFolder(cfg);
      const saved = folder ? savedStage(cfg, folder, slot) : undefined;
      const agent = makeAgent(cfg, slot, saved?.model ?? init.model, sessionOf(init), micro);
      if (folder) restoreSlot(cfg, folder, slot, agent, sessionOf(init));

      const holders = (stage?: number) =>
        new Map(
          slots.flatMap((_, s): [number, PeerId][] => {
            const p = roster.holder(s, stage);
            return p ? [[s, p]] : [];
          }),
        );
      const link = new PeerLink(host, {
        team: file.id,
        slot,
        slots: slots.length,
        names: cfg.sat.agents.map((a) => a.name),
        turnsPerRollout: cfg.team.workflow === 'chain' ? slots.length : 1,
        // Members: the holders of this stage and of the one before (an incumbent hands over, a peer's last shards are
        // fetched late).
        peers: holders,
        isMember: (p) => [...holders().values(), ...holders(roster.stage - 1).values()].some((h) => h.equals(p)),
        ...(init.deadlineMs ? { deadlineMs: init.deadlineMs } : {}),
        ...(init.upgradeAt !== undefined && !folder ? { takeOverAt: init.upgradeAt } : {}),
        ...(init.onTurn ? { onTurn: init.onTurn } : {}),
        log,
        teamPast: (stage) =>
          roster.holders().every((p, s) => !p || p.equals(host.peerId) || (roster.stageOf(s, p) ?? 0) > stage),
      });
      await link.start();
      // A newcomer claims the slot from its stage on; once it has saved a stage it holds it like any peer.
      const upgradeAt = init.upgradeAt !== undefined && !folder ? init.upgradeAt : undefined;
      if (upgradeAt !== undefined) await checkUpgradeStage(roster, slots.length, upgradeAt);
      await roster.claim(slot, slots[slot].family, slots[slot].tokenizer!, upgradeAt);
      const team = {
        runSeed: runSeed(cfg),
        agents: slots.map((_, s) => (s === slot ? agent : undefined)),
        format: chainFormat(tokenizer),
        train,
        workflow: cfg.team.workflow,
      };
      const test = cfg.dataset.testPath ? loadDataset(cfg.dataset.testPath) : [];
      const holds =
        upgradeAt !== undefined
          ? `takes slot ${slot} ('${cfg.sat.agents[slot].name}') over from stage ${upgradeAt}`
          : `holds slot ${slot} ('${cfg.sat.agents[slot].name}')`;
      log(`sat-peer ${host.peerId} ${holds} of team ${file.id}${saved ? `, resuming after stage ${saved.stage}` : ''}`);
      const unlogged = folder && saved && !loggedStage(cfg, saved.stage) ? savedRecord(folder) : undefined;
      return new Peer(
        host,
        file.id,
        slot,
        cfg,
        roster,
        discovery,
        link,
        team,
        test,
        agent,
        saved?.stage ?? 0,
        { ...init, log },
        unlogged,
      );
    } catch (err) {
      await discovery.stop();
      await host.stop();
      throw err;
    }
  }

  /**
   * Runs the team's stages up to the last one; `onStage` hears each as it ends (a new team's stage 0: its accuracy
   * before training).
   */
  async run(onStage?: (s: PeerStage) => void): Promise<void> {
    const last = this.init.lastStage ?? this.cfg.training.numStages;
    trimStageLog(this.cfg, this.done + 1); // rows past the last checkpoint, if any: a stage is saved before its row is logged
    if (this.init.upgradeAt !== undefined && this.done === 0) await this.enter(this.init.upgradeAt);
    else if (this.done > 0) {
      await this.resumeEvaluation(onStage);
      await this.catchUp(onStage);
    }
    if (this.done === 0) {
      await this.waitForTeam(0);
      this.link.beginStage(0);
      const t0 = Date.now();
      const testAccuracy = await this.accuracy(0);
      onStage?.({ stage: 0, testAccuracy, seconds: (Date.now() - t0) / 1000 });
    }
    for (let stage = this.done + 1; stage <= last && !this.stopped; stage++) {
      this.roster.setStage(stage);
      if (!this.roster.holder(this.slot, stage)?.equals(this.host.peerId)) return this.handOver(stage);
      await this.waitForTeam(stage);
      this.link.beginStage(stage);
      const t0 = Date.now();
      const record = await runStage(this.team, this.cfg, stage, this.link);
      // Saved before the evaluation: killed while evaluating, this peer restarts with its update (resumeEvaluation).
      saveStage(this.cfg, this.team, stage, record);
      this.init.onEvaluate?.(stage);
      this.logStage(stage, record, await this.evaluate(stage), t0, onStage);
    }
    await this.lingerFor(last + 1);
  }

  /**
   * A peer killed during a stage's evaluation restarts from that stage, saved with its agent's update
   * (which the team counted), before the row was logged; the others wait for its turns in the
   * evaluation. It takes them again, then logs the row from the saved record.
   */
  private async resumeEvaluation(onStage?: (s: PeerStage) => void): Promise<void> {
    const record = this.unlogged;
    if (!record) return;
    const stage = this.done;
    this.init.log?.(`stage ${stage} was saved but its evaluation was cut short: taking part in it again`);
    this.roster.setStage(stage);
    await this.waitForTeam(stage);
    this.link.beginStage(stage);
    const t0 = Date.now();
    this.logStage(stage, record, await this.evaluate(stage), t0, onStage);
  }

  /**
   * A restarted peer rejoins where the team is. A stage whose rollout is complete goes on without
   * it (its agent skips the stage's update, its state stays as last saved): it follows that stage
   * from what the others make, logging the row they log, takes its turns in the stage's evaluation,
   * and joins the next one. A stage still rolling out needs its turns: it joins that one.
   */
  private async catchUp(onStage?: (s: PeerStage) => void): Promise<void> {
    await new Promise((r) => setTimeout(r, CATCH_UP_MS));
    const team = () =>
      Math.max(
        0,
        ...this.roster
          .holders()
          .flatMap((p, s) => (p && !p.equals(this.host.peerId) ? [this.roster.stageOf(s, p) ?? 0] : [])),
      );
    const now = team();
    if (now <= this.done) return;
    // What the team has of that stage is gossiped again every 2 s: listen a while before deciding.
    const until = Date.now() + ROLLOUT_WAIT_MS;
    while (!this.link.rolledOut(now) && Date.now() < until && !this.stopped)
      await new Promise((r) => setTimeout(r, 200));
    if (now > this.done + 1) this.init.log?.(`stages ${this.done + 1}..${now - 1} went on without this agent`);
    this.done = now - 1;
    if (!this.link.rolledOut(now)) return;
    // Its updates go on without this agent, but the stage's evaluation takes every slot's turns.
    this.init.log?.(
      `the team is past stage ${now}'s rollout: following it without this agent's update, taking part in its ` +
        `evaluation, then rejoining at stage ${now + 1}`,
    );
    this.link.beginStage(now, true);
    const t0 = Date.now();
    const observed = { ...this.team, agents: this.team.agents.map(() => undefined) };
    const [record, evaluated] = await Promise.all([runStage(observed, this.cfg, now, this.link), this.evaluate(now)]);
    saveStage(this.cfg, this.team, now, record);
    this.logStage(now, record, evaluated, t0, onStage);
  }

  /** Logs and reports a stage this peer has seen through (and saved), with its evaluation and the seconds that took. */
  private logStage(
    stage: number,
    record: StageRecord,
    [evaluation, evalSeconds]: [StageEvaluation, number],
    t0: number,
    onStage?: (s: PeerStage) => void,
  ): void {
    record.time.eval = evalSeconds;
    const seconds = (Date.now() - t0) / 1000;
    const row = stageRow(record, evaluation, seconds);
    appendStageLog(this.cfg, { ...row });
    saveKnownPeers(this.init.dataDir, this.host.libp2p);
    this.done = stage;
    onStage?.({ stage, record, row, testAccuracy: evaluation.testAccuracy, seconds });
  }

  /**
   * Plug-and-play (docs/design §1): this newcomer takes its slot over at `stage`. The incumbent's tensors
   * come from its peer; the agent decodes through the Stage-0 projection onto the ball around them.
   */
  private async enter(stage: number): Promise<void> {
    this.roster.setStage(stage);
    this.init.log?.(`waiting for slot ${this.slot}'s incumbent to hand its tensors over at stage ${stage}`);
    const bytes = await this.link.incumbentParams(stage);
    const file = path.join(this.init.dataDir, `incumbent-${stage}.safetensors`);
    writeFileAtomic(file, bytes);
    const lora = this.cfg.training.lora ?? undefined;
    const incumbent = makeIncumbent(
      this.cfg,
      this.cfg.sat.agents[this.slot].path,
      loadParams(file, lora),
      sessionOf(this.init),
    );
    this.agent.stage0 = { incumbent, delta: this.cfg.sat.stage0Delta };
    this.done = stage - 1;
    this.init.log?.(
      `slot ${this.slot} taken over: entering through Stage-0 (KL ball ${this.cfg.sat.stage0Delta}) from stage ${stage}`,
    );
  }

  /**
   * A newcomer holds this peer's slot from `stage` on: its agent's tensors are handed over (announced
   * again until the newcomer is past the stage, or gone), and this peer's part is done.
   */
  private async handOver(stage: number): Promise<void> {
    const newcomer = this.roster.holder(this.slot, stage)!;
    const file = path.join(this.init.dataDir, `handover-${stage}.safetensors`);
    saveParams(file, freezeParams(this.agent.trainer.paramSource()));
    const bytes = fs.readFileSync(file);
    this.init.log?.(
      `slot ${this.slot} is taken over by ${newcomer} from stage ${stage}: handing the agent's tensors over`,
    );
    const until = Date.now() + HANDOVER_MS;
    while (
      Date.now() < until &&
      !this.stopped &&
      (this.roster.stageOf(this.slot, newcomer) ?? 0) <= stage &&
      this.roster.holder(this.slot, stage)?.equals(newcomer)
    ) {
      await this.link.handOver(stage, bytes);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }

  /**
   * Done, a peer still serves what it made until the others are done too (their heartbeats say they
   * are past `stage`, or they are gone), for at most LINGER_MS: the last turn's shard is fetched from it.
   */
  private async lingerFor(stage: number): Promise<void> {
    this.roster.setStage(stage);
    const until = Date.now() + LINGER_MS;
    while (Date.now() < until && !this.stopped) {
      const waiting = this.roster
        .holders()
        .some((p, s) => p && !p.equals(this.host.peerId) && (this.roster.stageOf(s, p) ?? 0) < stage);
      if (!waiting) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * The held-out metrics of the stage's row (as `train` logs them), each agent taking its turns on its own peer; and
   * the seconds they took.
   */
  private async evaluate(stage: number): Promise<[StageEvaluation, number]> {
    const t0 = Date.now();
    const o = evalOptions(this.cfg, stage);
    const evaluation =
      this.test.length === 0
        ? { testAccuracy: NaN, avgAtK: NaN, passAtK: NaN, k: o.k, alone: this.team.agents.map(() => NaN) }
        : await stageEvaluation(this.team, this.test, o, this.evalLink(stage));
    return [evaluation, Math.round(Date.now() - t0) / 1000];
  }

  /** The team's greedy accuracy on the test set, each agent taking its turns on its own peer. */
  private async accuracy(stage: number): Promise<number> {
    if (this.test.length === 0) return NaN;
    return teamAccuracy(
      this.team,
      this.test,
      this.cfg.data.maxResponseLength,
      this.team.agents.map((a) => a?.policy),
      this.evalLink(stage),
    );
  }

  /**
   * How `stage`'s evaluation reaches the other peers' agents: their turns, and each one's solo rollout (by its slot's
   * name).
   */
  private evalLink(stage: number): StageEvalLink {
    const solo = (slot: number) => `alone-${slot}/0`;
    return {
      remoteTurn: (rollout, slot) => this.link.remoteTurn(stage, rollout, slot),
      shareTurn: (rollout, ts) => this.link.shareTurn(stage, rollout, ts),
      shareAlone: (slot, ts) => this.link.shareTurn(stage, solo(slot), ts),
      remoteAlone: (slot) => this.link.rollout(stage, solo(slot)),
    };
  }

  /** Waits until every slot has a live holder that hears this peer's blocks and token topics. */
  private async waitForTeam(stage: number): Promise<void> {
    const topics = [blocksTopic(this.teamId), tokenTopic(this.teamId)];
    let said = 0;
    for (;;) {
      const holders = this.roster.holders();
      const missing = holders.flatMap((p, s) =>
        !p
          ? [`slot ${s} has no peer`]
          : p.equals(this.host.peerId)
            ? []
            : topics.every((t) => this.host.subscribers(t).some((x) => x.equals(p)))
              ? []
              : [`slot ${s}'s peer is not subscribed yet`],
      );
      if (missing.length === 0) return;
      if (Date.now() - said > 10_000) {
        this.init.log?.(`stage ${stage}: waiting for the team (${missing.join(', ')})`);
        said = Date.now();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.roster.stop();
    await this.discovery.stop();
    await this.link.stop();
    await this.agent.release();
    await this.host.stop();
  }
}

/**
 * The micro-batch (rollouts scored and trained on at once) this machine's memory allows for the team's
 * stage: 0 when all of them fit. Refuses, before joining, a model that does not fit even one at a time.
 */
function microBatch(
  cfg: SatConfig,
  init: PeerInit,
  train: readonly Problem[],
  f: ChainFormat,
  slots: number,
  log: (line: string) => void,
): number {
  const rows = Math.min(cfg.data.trainBatchSize, train.length) * cfg.sat.groupSize;
  const prompt = Math.min(
    cfg.data.maxPromptLength,
    Math.max(...train.slice(0, 1000).map((p) => f.promptIds(p.prompt).length)),
  );
  const tokens = prompt + (cfg.team.workflow === 'chain' ? slots : 1) * cfg.data.maxResponseLength;
  const lora = cfg.training.lora !== null && cfg.training.lora !== undefined;
  const gpu = init.device === 'cuda';
  const free = init.memory === undefined ? (gpu ? gpuMemory() : availableMemory()) : undefined;
  if (init.memory === undefined && free === undefined) {
    log(
      "the GPU's free memory cannot be read (nvidia-smi): taking the stage's rollouts at once (--micro-batch N or " +
        '--memory GiB sets how many)',
    );
    return 0;
  }
  const budget = init.memory ?? MEMORY_SHARE * free!;
  const fit = microBatchFor(
    loadCheckpoint(init.model),
    {
      model: init.model,
      lora,
      rows,
      tokens,
      own: cfg.data.maxResponseLength,
      gpu,
      ...(init.memory !== undefined ? { given: true } : {}),
    },
    budget,
  );
  if (fit >= rows) return 0;
  const of =
    init.memory !== undefined
      ? `the ${(budget / 2 ** 30).toFixed(1)} GiB --memory gives it`
      : `the ${gpu ? 'GPU' : 'machine'}'s memory (${(free! / 2 ** 30).toFixed(1)} GiB available)`;
  log(`the stage's ${rows} rollouts do not fit ${of} at once: generating, scoring and training on ${fit} at a time`);
  return fit;
}

/**
 * A peer's session options: on a worker thread, so the network loop keeps ticking through steps of
 * seconds.
 */
const sessionOf = (init: PeerInit): SessionOptions => ({
  inWorker: true,
  ...(init.threads ? { threads: init.threads } : {}),
  ...(init.device ? { device: init.device } : {}),
});

/** Refuses a --slot the team lacks, or one whose tokenizer differs from the model's. */
function checkSlot(file: TeamFile, init: PeerInit, tokenizerHash: string): void {
  const slots = file.manifest.slots;
  if (init.slot === undefined) return;
  if (init.slot >= slots.length)
    throw new InputError(`the team has ${slots.length} slots (0..${slots.length - 1}), not slot ${init.slot}`);
  if (Buffer.from(slots[init.slot].tokenizer!).toString('hex') !== tokenizerHash)
    throw new InputError(`${init.model} has another tokenizer than slot ${init.slot} of the team needs`);
}

/**
 * A newcomer hears the team first: every peer must learn its claim before the stage it names begins,
 * so that stage must lie at least two ahead of the team's.
 */
async function checkUpgradeStage(roster: Roster, slots: number, at: number): Promise<void> {
  const until = Date.now() + TEAM_WAIT_MS;
  while (roster.holders().some((p) => !p) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  const stages = roster.holders().flatMap((p, s) => (p ? [roster.stageOf(s, p) ?? 0] : []));
  if (stages.length < slots)
    throw new ClaimError(
      `the team is not complete (${stages.length} of ${slots} slots held): a slot can be taken over once the team runs`,
    );
  const now = Math.max(0, ...stages);
  if (at < now + 2)
    throw new ClaimError(
      `the team is in stage ${now}: take the slot over at stage ${now + 2} or later (--upgrade-at), so every peer ` +
        `hears the claim before that stage begins`,
    );
}

/** The lowest slot this model fits that no live peer holds, after listening to the roster a while. */
async function freeSlot(roster: Roster, slots: number, fits: (slot: number) => boolean): Promise<number> {
  await new Promise((r) => setTimeout(r, LISTEN_MS));
  const holders = roster.holders();
  const free = Array.from({ length: slots }, (_, s) => s).find((s) => !holders[s] && fits(s));
  if (free === undefined)
    throw new ClaimError(
      `every slot this model fits is held (${slots} slots): pass --slot <j> to take one over with a stronger model`,
    );
  return free;
}
