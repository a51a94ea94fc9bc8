// One peer of a network team: it hosts one slot's agent, joins the team's libp2p network,
// claims its slot on the roster, and runs the team's stages with the others — the same stage loop as a
// local team, its remote slots reached through the PeerLink. Each stage ends with a row in the peer's
// stage_log.jsonl and a checkpoint of its slot in its data dir; a restarted peer resumes from there.
import type { StagePlan } from './micro-batch.ts';
import type { SatConfig } from '../config/load.ts';
import type { Device, LoadProgress } from '../gpu/ort.ts';
import type { PeerHost } from '../protocol/host.ts';
import type { Roster } from '../protocol/roster.ts';
import { saveKnownPeers } from '../protocol/known-peers.ts';
import type { StageRow } from '../sat/evaluate.ts';
import type { StageRecord } from '../sat/stage.ts';
import { type StageLoop, greedyAccuracy, runStages } from '../sat/stage-loop.ts';
import { rejoin } from './catch-up.ts';
import { recoverSlot } from './slot-recovery.ts';
import { type StageRole, stageRole, takeTrainerState } from './replica.ts';
import { evalLink } from './eval-link.ts';
import { enterSlot, handOver } from './hand-over.ts';
import { type JoinedPeer, joinTeam } from './join.ts';
import type { PeerChunks } from './peer-chunks.ts';
import type { PeerLink } from './peer-link.ts';
import type { SlotStates } from './slot-states.ts';
import type { StageDigests } from './stage-digests.ts';
import type { Attestations } from '../protocol/attestations.ts';
import { linger, teamStage, waitForTeam } from './team-wait.ts';

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
  /** A new team's stage 0 waits until this many peers have claimed its slots, replicas included. */
  minPeers?: number;
  /** Rollouts scored and trained on at once (default: as many as this machine's memory allows; 0: all). */
  microBatch?: number;
  /**
   * Bytes of memory this peer plans its stage with (default: 90% of what the device has available, micro-batch.ts); for
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
  /** Hears the agent's weights being read, before the peer claims its slot: bytes read of the total. */
  onLoadWeights?: LoadProgress;
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
  /** The stage's digest (docs/design §4.15), hex; none when the chain before it is not known here. */
  digest?: string;
  /** This peer followed the stage as a replica of its slot (docs/design §4.16): its update time is its checks'. */
  replica?: true;
}

export class Peer {
  readonly host: PeerHost;
  /** The team id (the manifest's CID). */
  readonly teamId: string;
  readonly slot: number;
  readonly cfg: SatConfig;
  /** Its micro-batch and the memory planned for it. */
  readonly plan: StagePlan;
  /** Who holds each slot, as this peer hears it. */
  readonly roster: Roster;
  /** The link to the other slots (the token among them). */
  readonly link: PeerLink;
  /** Its chunk store, served to the team. */
  readonly chunks: PeerChunks;
  /** The slot states it keeps for the team. */
  readonly states: SlotStates;
  /** Its chain of stage digests, and the others' compared with it. */
  readonly digests: StageDigests;
  /** The replicas' word on updates, its own included (docs/design §4.16). */
  readonly attestations: Attestations;
  /** What this peer was in its last stage: its slot's trainer or a replica (replica.ts). */
  private role: StageRole | undefined;
  /** Whether this peer, as a replica, holds the state its trainer trains from (it took the last one offered). */
  private inStep = false;
  /** Aborted by stop: every wait of the peer's ends. */
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;

  private constructor(private readonly joined: JoinedPeer) {
    ({ host: this.host, teamId: this.teamId, slot: this.slot, cfg: this.cfg, plan: this.plan } = joined);
    ({
      roster: this.roster,
      link: this.link,
      chunks: this.chunks,
      states: this.states,
      digests: this.digests,
      attestations: this.attestations,
    } = joined);
  }

  static async start(init: PeerInit): Promise<Peer> {
    return new Peer(await joinTeam(init));
  }

  /**
   * Runs the team's stages up to the last one; `onStage` hears each as it ends (a new team's stage 0: its accuracy
   * before training).
   */
  async run(onStage?: (s: PeerStage) => void): Promise<void> {
    const p = this.joined;
    const signal = this.stopping.signal;
    const last = p.init.lastStage ?? this.cfg.training.numStages;
    const loop = this.stageLoop(onStage);
    let done = p.saved;
    if (p.upgradeAt !== undefined) {
      await enterSlot(p, p.upgradeAt);
      done = p.upgradeAt - 1;
    } else {
      // A peer whose disk lost its slot's state (or holds an older one than the team's) takes it from the team.
      done = await recoverSlot(p, signal);
      // Its state offered again: the copies the others keep may be older, or gone with their peers.
      if (done > 0) void p.states.offer();
      // A peer with no state at all, joining a team already past stage 0, catches up as a restarted one does.
      if (done > 0 || teamStage(p.roster, this.host.peerId) > 0) done = await rejoin(p, loop, signal);
    }
    if (done === 0) {
      if (!(await waitForTeam(p, 0, signal, p.init.minPeers))) return;
      // A replica follows the team's first evaluation: its slot's turns there are its trainer's.
      const replica = stageRole(p, 0) === 'replica';
      p.link.beginStage(0, replica);
      const t0 = Date.now();
      const testAccuracy = await greedyAccuracy(loop, 0, replica);
      onStage?.({ stage: 0, testAccuracy, seconds: (Date.now() - t0) / 1000 });
    }
    // A peer that handed its slot over, or was stopped, ends short of the last stage; one that is done lingers.
    if ((await runStages(loop, done + 1, last)) < last) return;
    // A replica takes the slot's state of the last stage too: it offers it as the slot's peers do.
    if (p.followed && (await takeTrainerState(p, p.followed, signal))) void p.states.offer();
    await linger(p, last + 1, signal);
  }

  /** The shared stage loop, each stage readied on the network first and its peers remembered once logged. */
  private stageLoop(onStage?: (s: PeerStage) => void): StageLoop {
    const p = this.joined;
    return {
      cfg: p.cfg,
      team: p.team,
      test: p.test,
      link: p.link,
      evalLink: (stage) => evalLink(p.link, stage),
      beforeStage: (stage) => this.beforeStage(stage),
      ...(p.init.onEvaluate ? { onEvaluate: p.init.onEvaluate } : {}),
      onStage: (s) => {
        saveKnownPeers(p.init.dataDir, p.host.libp2p);
        // A replica offers the slot's state once it has taken its trainer's (beforeStage), not its own untrained one.
        const followed = p.followed?.stage === s.stage;
        if (followed) p.followed!.updated = s.record.agents.some((a) => a.slot === p.slot && !a.skipped);
        else void p.states.offer();
        // A stage whose evaluation this peer resumed after a restart: its link holds nothing of what it included.
        const known = p.link.stageOrder.length > 0;
        const digest =
          s.row && (known ? p.digests.add(s.stage, p.link.stageContent(s.stage)) : p.digests.adopt(s.stage));
        if (digest) p.roster.setDigest(s.stage, digest);
        onStage?.({
          ...s,
          ...(digest ? { digest: Buffer.from(digest).toString('hex') } : {}),
          ...(followed ? { replica: true as const } : {}),
        });
      },
    };
  }

  /**
   * Readies `stage` on the network: true when this peer trains its slot in it, 'follow' when it is a replica of the
   * slot (docs/design §4.16), false when its part is over (its slot handed over, it was excluded, or it stopped).
   */
  private async beforeStage(stage: number): Promise<boolean | 'follow'> {
    const p = this.joined;
    const signal = this.stopping.signal;
    if (signal.aborted) return false;
    if (p.followed) {
      const taken = await takeTrainerState(p, p.followed, signal);
      if (taken) void p.states.offer();
      // A replica that missed the state its trainer's kept update made is out of step until it takes one.
      if (taken || p.followed.updated) this.inStep = taken;
    }
    delete p.followed;
    p.roster.setStage(stage);
    const was = this.role;
    if (stageRole(p, stage) === 'handed-over') {
      await handOver(p, stage, signal);
      return false;
    }
    if (!(await waitForTeam(p, stage, signal))) return false;
    this.role = stageRole(p, stage);
    if (this.role === 'excluded') {
      p.init.log(`this peer is excluded from the team from stage ${stage} on: its part is over`);
      // Its slot's replicas may still take the state it offered of the stage before (§4.16).
      await linger(p, stage, signal);
      return false;
    }
    const trainer = p.roster.holder(this.slot, stage)!;
    if (this.role === 'replica' && was !== 'replica')
      p.init.log(`stage ${stage}: following slot ${this.slot}'s trainer ${trainer} as its replica`);
    if (this.role === 'trainer' && was !== 'trainer')
      p.init.log(
        `stage ${stage}: this peer trains slot ${this.slot}` +
          (was === 'replica' ? ' from now on: the peer before it in line is gone' : ''),
      );
    // A replica makes a share of its slot's turns only in step with its trainer: from the team's first stage, or once
    // it took its trainer's state (§4.17).
    const replica = this.role === 'replica';
    p.link.beginStage(stage, replica, !replica || this.inStep || stage === 1);
    if (this.role === 'trainer') return true;
    p.followed = { stage, trainer };
    return 'follow';
  }

  /** Stops the peer once: a second call (a signal while the run winds down) waits for the first. */
  stop(): Promise<void> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  private async stopAll(): Promise<void> {
    const p = this.joined;
    this.stopping.abort();
    p.roster.stop();
    await p.discovery.stop();
    await p.link.stop();
    await p.states.stop();
    p.attestations.stop();
    await p.chunks.stop();
    await p.agent.release();
    await this.host.stop();
    p.unlock();
  }
}
