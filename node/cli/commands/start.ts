// `sat-peer start --model <name|dir> --team <team file|team id>`: joins a team as one peer — claims a slot,
// runs the team's stages with the other peers, and logs each stage (one JSON line each with --json).
// SIGINT or SIGTERM stops it; what the last complete stage saved stays, and a restart resumes there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { progressBar, resolveModel } from '../../agent/hub/hub.ts';
import type { SatConfig } from '../../config/load.ts';
import { logRing } from '../../ops/log-ring.ts';
import { type ServedStatus, serveStatus } from '../../ops/serve-status.ts';
import { readStatusFile } from '../../ops/status-file.ts';
import type { StatusSource } from '../../ops/status-snapshot.ts';
import { dataDirHolder } from '../../peer/data-dir-lock.ts';
import { readTeamFile } from '../../peer/manifest.ts';
import { Peer } from '../../peer/peer.ts';
import { cidFromString } from '../../protocol/cid.ts';
import { CLAIM_FILE } from '../../protocol/roster.ts';
import { teamIdOf } from '../../peer/team-spec.ts';
import { joiningStatusSource, peerStatusSource } from '../../peer/peer-status.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { MODEL_OPTIONS, numberFlag, sessionOptions, stringFlag, printJson } from '../options.ts';
import { stageHeader, stageLine } from '../stage-line.ts';
import { onStopSignals } from '../stop-signals.ts';
import { weightsProgress } from '../weights-progress.ts';

/**
 * Each team its own data dir by default (identity, claims, checkpoints), named by its id: two teams never share one.
 * A peer that ran this team before under the team file's name (`~/.sat-peer/team`) keeps that dir, and its slot.
 */
function defaultDataDir(teamFile: string): string {
  const id = teamIdOf(teamFile);
  const byId = path.join(os.homedir(), '.sat-peer', id);
  const byName = path.join(os.homedir(), '.sat-peer', path.basename(teamFile).replace(/\.ya?ml$/, ''));
  if (byName === byId || fs.existsSync(byId)) return byId;
  const claims = path.join(byName, CLAIM_FILE);
  const claimed = fs.existsSync(claims) && fs.readFileSync(claims, 'utf8').includes(`"${id}/`);
  return claimed ? byName : byId;
}

/** Refuses `--stages` past the team's last stage (its training.num_stages). */
function checkStages(lastStage: number | undefined, cfg: SatConfig): void {
  const last = cfg.training.numStages;
  if (lastStage !== undefined && lastStage > last)
    throw new UsageError(
      `--stages ${lastStage} is past the team's last stage: its training.num_stages is ${last}; give --stages ${last} ` +
        'or less, or leave it out',
    );
}

/**
 * Names the status page in the data dir while the peer joins (the folder made if missing), so that
 * `sat-peer status --data-dir` finds it then; not while another process holds the dir (joining then refuses) or
 * names its own page there, nor when the dir cannot be made (joining says why).
 */
function announceEarly(status: ServedStatus, dataDir: string): void {
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    const named = readStatusFile(dataDir);
    if (dataDirHolder(dataDir) === undefined && (named === undefined || named.pid === process.pid))
      status.announce(dataDir);
  } catch {
    // joining refuses this data dir in a line of its own
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

export const startCommand: Command = {
  name: 'start',
  summary: 'join a team as one peer: claim a slot, run its stages with the other peers',
  usage:
    'sat-peer start --model <name|dir> --team <team file|team id> [--bootstrap <multiaddr>]... [--slot j ' +
    '[--upgrade-at <stage>]] [--data-dir <dir>] [--listen <multiaddr>]... [--announce <multiaddr>]... [--nat] ' +
    '[--json]',
  args: [],
  options: {
    model: {
      type: 'string',
      value: '<name|dir>',
      description:
        'qwen3-0.6b .. qwen3-32b (from the Hugging Face hub), tiny-weak / tiny-strong (embedded), or a checkpoint folder',
    },
    team: {
      type: 'string',
      value: '<file|id>',
      description:
        "the team file (sat-peer team create), or the team id: its manifest and data come from the team's peers",
    },
    bootstrap: {
      type: 'string',
      multiple: true,
      value: '<multiaddr>',
      description: 'a peer to join through (sat-bootstrap prints them); repeat for more',
    },
    slot: {
      type: 'string',
      value: '<j>',
      description: 'the slot to claim (default: the first free one the model fits)',
    },
    'data-dir': {
      type: 'string',
      value: '<dir>',
      description: 'identity, checkpoints and stage log (default ~/.sat-peer/<team id>; printed at start)',
    },
    listen: {
      type: 'string',
      multiple: true,
      value: '<multiaddr>',
      description: 'where to listen (default /ip4/0.0.0.0/tcp/0); repeat for more',
    },
    announce: {
      type: 'string',
      multiple: true,
      value: '<multiaddr>',
      description:
        'the address to advertise instead of the listening ones (a public one behind a port forward); repeat for more',
    },
    stages: {
      type: 'string',
      value: '<n>',
      description: "stop after this stage, at most the team's training.num_stages (the default)",
    },
    'upgrade-at': {
      type: 'string',
      value: '<stage>',
      description:
        'take --slot over from this stage with this (stronger) model, through Stage-0; the incumbent hands its agent over',
    },
    nat: {
      type: 'boolean',
      description:
        'behind a NAT: also be reachable through a relay (the bootstrap peers are relays), with autonat and hole punching (dcutr)',
    },
    offline: { type: 'boolean', description: 'never download a model: use the Hugging Face cache only' },
    'micro-batch': {
      type: 'string',
      value: '<n>',
      description:
        "rollouts scored and trained on at once (default: as many as this machine's memory allows; 0: all of the stage's)",
    },
    memory: {
      type: 'string',
      value: '<GiB>',
      description:
        'memory this peer plans its stage with (default: 90% of what the machine, or the GPU, has available); ' +
        'give each its share when several peers run on one machine',
    },
    'min-peers': {
      type: 'string',
      value: '<n>',
      description:
        "a new team's first stage waits until this many peers have claimed its slots, replicas included (default: " +
        'one a slot)',
    },
    deadline: {
      type: 'string',
      value: '<seconds>',
      description: 'how long a silent token holder is waited for before the next in order takes over (default 30)',
    },
    http: {
      type: 'string',
      value: '<host:port>',
      description:
        'serve the status page (/), /status.json and Prometheus /metrics there; loopback unless a host is written ' +
        'out; port 0: any free port (default: off)',
    },
    device: MODEL_OPTIONS.device,
    threads: MODEL_OPTIONS.threads,
  },
  async run({ options, json }) {
    const teamFile = stringFlag(options, 'team', true);
    const spec = stringFlag(options, 'model', true);
    const session = sessionOptions(options);
    const slot = options.slot === undefined ? undefined : numberFlag(options, 'slot', 0, { integer: true, min: 0 });
    const lastStage =
      options.stages === undefined ? undefined : numberFlag(options, 'stages', 0, { integer: true, min: 1 });
    const upgradeAt =
      options['upgrade-at'] === undefined ? undefined : numberFlag(options, 'upgrade-at', 0, { integer: true, min: 1 });
    const deadline = options.deadline === undefined ? undefined : numberFlag(options, 'deadline', 30, { above: 0 });
    const minPeers =
      options['min-peers'] === undefined ? undefined : numberFlag(options, 'min-peers', 0, { integer: true, min: 1 });
    const microBatch =
      options['micro-batch'] === undefined
        ? undefined
        : numberFlag(options, 'micro-batch', 0, { integer: true, min: 0 });
    const memory = options.memory === undefined ? undefined : numberFlag(options, 'memory', 0, { above: 0 }) * 2 ** 30;
    const dataDir = stringFlag(options, 'data-dir') ?? defaultDataDir(teamFile);
    // A team file says its last stage now; a team id's manifest comes with joining, and is checked then.
    const local = fs.existsSync(teamFile) ? readTeamFile(teamFile) : undefined;
    if (local) checkStages(lastStage, local.cfg);
    const http = stringFlag(options, 'http');
    const ring = logRing();
    // The status server starts first, so that a busy port is found before anything else starts (a slot claimed);
    // it shows the peer joining until the peer's own view takes over.
    const teamId = local?.id ?? (cidFromString(teamFile) ? teamFile : undefined);
    let source: StatusSource = joiningStatusSource(teamId, dataDir, ring);
    const status =
      http === undefined
        ? undefined
        : await serveStatus(http, { snapshot: () => source.snapshot(), metrics: () => source.metrics() });
    if (status) announceEarly(status, dataDir);
    const signals = onStopSignals(dataDir);
    signals.stopping(async () => status?.stop());
    const say = (line: string) => {
      process.stderr.write(`${line}\n`);
      ring.note(line);
    };
    let peer: Peer | undefined;
    try {
      const model = await resolveModel(spec, {
        ...(options.offline ? { offline: true } : {}),
        progress: progressBar(process.stderr),
      });
      peer = await Peer.start({
        teamFile,
        model: model.dir,
        dataDir,
        listen: list(options.listen).length ? list(options.listen) : undefined,
        announce: list(options.announce),
        ...(options.nat ? { nat: true } : {}),
        bootstrap: list(options.bootstrap),
        ...(slot === undefined ? {} : { slot }),
        ...(lastStage ? { lastStage } : {}),
        ...(upgradeAt ? { upgradeAt } : {}),
        ...(deadline ? { deadlineMs: deadline * 1000 } : {}),
        ...(minPeers ? { minPeers } : {}),
        ...(microBatch !== undefined ? { microBatch } : {}),
        ...(memory !== undefined ? { memory } : {}),
        ...(json
          ? {
              onTurn: (stage: number, position: number) => printJson({ event: 'turn', stage, position }),
              onEvaluate: (stage: number) => printJson({ event: 'evaluating', stage }),
            }
          : {}),
        ...(session.threads ? { threads: session.threads } : {}),
        ...(session.device === 'cuda' ? { device: 'cuda' as const } : {}),
        log: say,
        onLoadWeights: weightsProgress(spec),
      });
      checkStages(lastStage, peer.cfg);
      status?.announce(dataDir); // the data dir is the peer's now
    } catch (err) {
      signals.off();
      await status?.stop();
      await peer?.stop();
      throw err;
    }
    const joined = peer;
    source = peerStatusSource(joined, dataDir, ring);
    signals.stopping(() => Promise.all([status?.stop(), joined.stop()]));
    if (json)
      printJson({
        event: 'joined',
        peerId: joined.host.peerId.toString(),
        team: joined.teamId,
        dataDir,
        slot: joined.slot,
        addresses: joined.host.addresses,
        micro_batch: joined.plan.microBatch,
        planned_mb: mib(joined.plan.plannedBytes),
      });
    else {
      say(`listening on ${joined.host.addresses.join(', ')}`);
      say(`data dir ${dataDir} (identity, checkpoints, stage log)`);
      say(stageHeader(joined.cfg.evaluation.numSamplesPerAgent, true));
    }
    if (status && json) printJson({ event: 'http', url: status.url });
    else if (status) say(`status page at ${status.where}`);
    // The peers this one has excluded from the team so far (each stage row carries them).
    const excluded = () => {
      const list = joined.roster.exclusions();
      return list.length ? { excluded: list } : {};
    };
    try {
      await joined.run(({ stage, row, testAccuracy, digest, replica }) => {
        (globalThis as { gc?: () => void }).gc?.(); // run with --expose-gc, the numbers are what is held, not what awaits collection
        const mem = process.memoryUsage();
        const [rss_mb, heap_mb] = [mem.rss, mem.heapUsed].map(mib);
        // The most this process has held so far, beside what its memory plan allowed for.
        const peak = {
          peak_rss_mb: mib(process.resourceUsage().maxRSS * 1024),
          planned_mb: mib(joined.plan.plannedBytes),
        };
        if (json)
          return printJson(
            row
              ? {
                  event: 'stage',
                  ...row,
                  ...excluded(),
                  ...(digest ? { digest } : {}),
                  ...(replica ? { replica } : {}),
                  rss_mb,
                  heap_mb,
                  ...peak,
                  // What this peer has sent so far, by protocol: the sim sums each stage's.
                  bytes_out: Object.fromEntries(joined.host.traffic.bytesOut),
                  // Chunks of its slot's shared turns this peer made in the stage (docs/design §4.17).
                  chunks_made: joined.link.chunksMade.get(stage) ?? 0,
                }
              : { event: 'start', stage, test_accuracy: testAccuracy },
          );
        if (!row) return say(`test accuracy before training: ${(100 * testAccuracy).toFixed(1)}%`);
        say(stageLine(row, rss_mb));
      });
    } finally {
      signals.off();
      await status?.stop();
      await joined.stop();
    }
  },
};
