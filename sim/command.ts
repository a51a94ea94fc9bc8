// `sat-peer sim`: a whole team of real peer processes on this machine (sim/run.ts), with a live
// per-stage table; --json prints each stage as a JSON line and a summary object last.
import path from 'node:path';
import { ADVERSARY_KINDS, isAdversaryKind } from './adversaries.ts';
import { DEFAULT_CONFIG, type SimOptions, type SimStage, runSim } from './run.ts';
import { type SatConfig, loadConfig } from '../node/config/load.ts';
import { UsageError } from '../node/cli/errors.ts';
import type { Command } from '../node/cli/command.ts';
import { numberFlag, stringFlag, printJson } from '../node/cli/options.ts';
import { stageBreakdown, stageHeader, stageLine } from '../node/cli/stage-line.ts';

export { SimError } from './run.ts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * `--upgrade <slot>=<model>@<stage>` (slot by index or name, model a folder or an embedded name), or
 * 'none'; by default the first agent the config gives an `upgrade` model takes it at the last stage but one, so
 * that most stages show what SAT makes of the team before the newcomer shows what a stronger model adds.
 */
function upgradeFlag(raw: string | undefined, cfg: SatConfig, stages: number): SimOptions['upgrade'] {
  if (raw === 'none') return undefined;
  if (raw === undefined) {
    const slot = cfg.sat.agents.findIndex((a) => a.upgrade);
    return slot >= 0 && stages >= 2
      ? { slot, model: cfg.sat.agents[slot].upgrade!, stage: Math.max(2, stages - 1) }
      : undefined;
  }
  const m = /^([^=]+)=(.+)@(\d+)$/.exec(raw);
  if (!m)
    throw new UsageError(
      `--upgrade must look like <slot>=<model>@<stage> (e.g. 0=tiny-strong@6) or none, got '${raw}'`,
    );
  const slot = /^\d+$/.test(m[1]) ? Number(m[1]) : cfg.sat.agents.findIndex((a) => a.name === m[1]);
  if (slot < 0 || slot >= cfg.sat.agents.length)
    throw new UsageError(
      `--upgrade: no slot '${m[1]}' (the team's are ${cfg.sat.agents.map((a, i) => `${i}=${a.name}`).join(', ')})`,
    );
  return { slot, model: m[2], stage: Number(m[3]) };
}

/**
 * `--adversary <kind>@<slot>` (the slot's trainer) or `<kind>@<slot>.<replica>`, repeatable: one adversary a peer, its
 * slot one the team has and its replica one the sim starts.
 */
function adversaryFlags(raw: unknown, replicas: readonly number[]): NonNullable<SimOptions['adversaries']> {
  const slots = replicas.length;
  const list = raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  const kinds = Object.keys(ADVERSARY_KINDS).join(', ');
  return list.map((one, i) => {
    const m = /^([a-z-]+)@(\d+)(?:\.(\d+))?$/.exec(one);
    if (!m)
      throw new UsageError(
        `--adversary must look like <kind>@<slot> or <kind>@<slot>.<replica> (e.g. kl-lie@1), got '${one}'`,
      );
    const [, kind, slot, replica] = m;
    if (!isAdversaryKind(kind)) throw new UsageError(`--adversary: no kind '${kind}' (the kinds are ${kinds})`);
    if (Number(slot) >= slots) throw new UsageError(`--adversary: the team has slots 0..${slots - 1}, not ${slot}`);
    const has = replicas[Number(slot)];
    if (replica !== undefined && !(Number(replica) >= 1 && Number(replica) <= has))
      throw new UsageError(
        `--adversary: ${one} names replica ${replica}, and the sim starts ${has ? `replicas 1..${has}` : 'none'} ` +
          `of slot ${slot} (--replicas R, or --peers N)`,
      );
    const peer = one.slice(one.indexOf('@'));
    if (list.slice(0, i).some((other) => other.slice(other.indexOf('@')) === peer))
      throw new UsageError(`--adversary: ${peer.slice(1)} is named twice; one adversary a peer`);
    return { kind, slot: Number(slot), ...(replica !== undefined ? { replica: Number(replica) } : {}) };
  });
}

/**
 * Each slot's replicas from `--peers N` (a trainer a slot and the rest spread evenly, the lowest slots one more when
 * they do not divide) or `--replicas R` (R each); none without either.
 */
function replicaFlags(options: Record<string, unknown>, slots: number): number[] {
  const replicas =
    options.replicas === undefined ? undefined : numberFlag(options, 'replicas', 0, { integer: true, min: 0, max: 15 });
  const peers =
    options.peers === undefined
      ? undefined
      : numberFlag(options, 'peers', 0, { integer: true, min: 1, max: 16 * slots });
  if (peers !== undefined && peers < slots)
    throw new UsageError(
      `--peers ${peers}: the team has ${slots} slots and each needs its trainer (--slots ${peers} makes a smaller team)`,
    );
  if (peers !== undefined && replicas !== undefined && peers !== slots * (1 + replicas))
    throw new UsageError(
      `--peers ${peers} and --replicas ${replicas} disagree: ${slots} slots with ${replicas} replicas each are ` +
        `${slots * (1 + replicas)} peers; give one of them`,
    );
  if (peers === undefined) return Array(slots).fill(replicas ?? 0);
  const rest = peers - slots;
  return Array.from({ length: slots }, (_, s) => Math.floor(rest / slots) + (s < rest % slots ? 1 : 0));
}

/** `--latency 50ms` (or 0.05s, or 50: ms) and `--loss 1%` (or 0.01) as a link shape; none without either. */
function linkFlags(latency: string | undefined, loss: string | undefined): SimOptions['link'] {
  if (latency === undefined && loss === undefined) return undefined;
  const ms = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(latency ?? '0');
  if (!ms) throw new UsageError(`--latency must be a delay like 50ms or 0.05s, got '${latency}'`);
  const share = /^(\d+(?:\.\d+)?)(%)?$/.exec(loss ?? '0');
  const lossFraction = share ? Number(share[1]) / (share[2] ? 100 : 1) : NaN;
  if (!(lossFraction >= 0 && lossFraction < 1))
    throw new UsageError(`--loss must be a share of packets below 100%, like 1% or 0.01, got '${loss}'`);
  return { latencyMs: Number(ms[1]) * (ms[2] === 's' ? 1000 : 1), loss: lossFraction };
}

export const simCommand: Command = {
  name: 'sim',
  summary: 'run a whole team on this machine: a bootstrap and one real peer process per peer on 127.0.0.1',
  usage:
    'sat-peer sim [--config <file>] [--slots N] [--peers N | --replicas R] [--stages K] [--seed N] ' +
    '[--upgrade <slot>=<model>@<stage>|none] [--kill <slot>@<stage>[:eval] [--wipe]] ' +
    '[--adversary <kind>@<slot>[.<replica>]]... [--deadline S] [--latency 50ms] [--loss 1%] ' +
    '[--out <dir>] [--threads N] [--no-http] [--json]',
  args: [],
  options: {
    config: {
      type: 'string',
      value: '<file>',
      description: "the team's SAT config (default: the embedded three-peer team, models/demo3/demo.yaml)",
    },
    slots: {
      type: 'string',
      value: '<n>',
      description: "the team's slots (default one per agent of the config; more repeat its last agent)",
    },
    peers: {
      type: 'string',
      value: '<n>',
      description:
        'peers in all (default one a slot): a trainer a slot, and the rest its replicas, spread evenly over the slots ' +
        '(the lowest slots take one more when they do not divide); e.g. --peers 48 on three slots: 15 replicas a slot',
    },
    replicas: {
      type: 'string',
      value: '<r>',
      description:
        'replicas of each slot besides its trainer (default 0; the same as --peers slots*(1+r)): each makes and checks ' +
        "a share of its slot's turns, checks its updates, keeps its state and takes over when the trainer goes",
    },
    stages: { type: 'string', value: '<k>', description: "stages to run (default the config's training.num_stages)" },
    seed: {
      type: 'string',
      value: '<n>',
      description: "the team's seed: its prompts, samples and block orders (default the config's seed)",
    },
    out: {
      type: 'string',
      value: '<dir>',
      description: "where the team file and every peer's data go; emptied first (default outputs/sim)",
    },
    threads: {
      type: 'string',
      value: '<n>',
      description: "intra-op threads per peer (default: every core; a chain's peers mostly take turns)",
    },
    kill: {
      type: 'string',
      value: '<slot>@<stage>[:eval]',
      description:
        "kill that slot's peer (SIGKILL) as it takes the token in that stage (with :eval, as it starts the " +
        "stage's evaluation), and start it again: the team goes on, the peer rejoins",
    },
    wipe: {
      type: 'boolean',
      description:
        'with --kill: start the killed peer again on an empty data dir (a lost disk, a new identity): it takes its ' +
        "slot's state back from the copies the other peers keep",
    },
    adversary: {
      type: 'string',
      value: '<kind>@<slot>[.<replica>]',
      multiple: true,
      description:
        "that slot's trainer (or that replica of it) cheats the team, and the honest peers must catch it; repeatable. " +
        'A slot whose peer is ' +
        'excluded has no peer after that stage, and the team waits for one: run it for one stage (--stages 1). Kinds: ' +
        Object.entries(ADVERSARY_KINDS)
          .map(([kind, what]) => `${kind} (${what})`)
          .join('; '),
    },
    deadline: {
      type: 'string',
      value: '<seconds>',
      description: 'token-passing deadline of every peer (default 30): how long a silent holder is waited for',
    },
    latency: {
      type: 'string',
      value: '<delay>',
      description:
        'one-way delay of every link between the processes, e.g. 50ms (through a relay in front of each; default none)',
    },
    loss: {
      type: 'string',
      value: '<share>',
      description:
        'share of packets lost on every link, e.g. 1%: a lost one arrives a retransmission timeout (200 ms) later, as over TCP',
    },
    'no-http': {
      type: 'boolean',
      description: "don't serve each peer's status page (by default each serves one on a free loopback port)",
    },
    upgrade: {
      type: 'string',
      value: '<slot>=<model>@<stage>',
      description:
        'a newcomer peer takes the slot over with another model at that stage, through Stage-0 (default: the ' +
        "config's upgrade model at the last stage but one, e.g. 9 of 10; none: no upgrade)",
    },
  },
  async run({ options, json, verbose }) {
    const stages =
      options.stages === undefined ? undefined : numberFlag(options, 'stages', 0, { integer: true, min: 1 });
    const slots =
      options.slots === undefined ? undefined : numberFlag(options, 'slots', 0, { integer: true, min: 1, max: 64 });
    const config = stringFlag(options, 'config') ?? DEFAULT_CONFIG;
    const cfg = loadConfig(config);
    const replicas = replicaFlags(options, slots ?? cfg.sat.agents.length);
    const seed = options.seed === undefined ? undefined : numberFlag(options, 'seed', 0, { integer: true, min: 0 });
    const threads =
      options.threads === undefined ? undefined : numberFlag(options, 'threads', 0, { integer: true, min: 1 });
    const say = (line: string) => {
      if (!json) process.stdout.write(`${line}\n`);
    };
    const upgrade = upgradeFlag(stringFlag(options, 'upgrade'), cfg, stages ?? cfg.training.numStages);
    const killRaw = stringFlag(options, 'kill');
    const kill = killRaw === undefined ? undefined : /^(\d+)@(\d+)(:eval)?$/.exec(killRaw);
    if (kill === null)
      throw new UsageError(`--kill must look like <slot>@<stage> or <slot>@<stage>:eval (e.g. 1@3), got '${killRaw}'`);
    const wipe = options.wipe === true;
    if (wipe && !kill) throw new UsageError('--wipe goes with --kill: it says how the killed peer starts again');
    const adversaries = adversaryFlags(options.adversary, replicas);
    for (const a of adversaries)
      say(
        `${a.replica ? `replica ${a.slot}.${a.replica}` : `slot ${a.slot}'s peer`} is an adversary: ${ADVERSARY_KINDS[a.kind]}`,
      );
    const deadline = options.deadline === undefined ? undefined : numberFlag(options, 'deadline', 30, { above: 0 });
    const link = linkFlags(stringFlag(options, 'latency'), stringFlag(options, 'loss'));
    if (link)
      say(
        `every link between the processes: ${link.latencyMs} ms one way, ${(100 * link.loss).toFixed(1)}% of packets lost (and resent)`,
      );
    if (upgrade)
      say(
        `a newcomer with ${upgrade.model} takes slot ${upgrade.slot} ('${cfg.sat.agents[upgrade.slot].name}') ` +
          `over at stage ${upgrade.stage}`,
      );
    say(stageHeader(cfg.evaluation.numSamplesPerAgent, true));
    const result = await runSim(
      {
        config,
        out: stringFlag(options, 'out') ?? path.join('outputs', 'sim'),
        ...(upgrade ? { upgrade } : {}),
        ...(link ? { link } : {}),
        ...(kill
          ? {
              kill: {
                slot: Number(kill[1]),
                stage: Number(kill[2]),
                ...(kill[3] ? { at: 'eval' as const } : {}),
                ...(wipe ? { wipe } : {}),
              },
            }
          : {}),
        ...(deadline ? { deadline } : {}),
        ...(adversaries.length ? { adversaries } : {}),
        ...(stages ? { stages } : {}),
        ...(seed === undefined ? {} : { seed }),
        ...(slots ? { slots } : {}),
        ...(replicas.some((r) => r > 0) ? { replicas } : {}),
        ...(threads ? { threads } : {}),
        ...(verbose ? { log: (l: string) => process.stderr.write(`${l}\n`) } : {}),
        ...(options['no-http']
          ? {}
          : {
              http: true,
              onStatusPage: ({ peer, slot, url }: { peer: string; slot: number; url: string }) =>
                json ? printJson({ event: 'status_page', peer, slot, url }) : say(`${peer}: status page ${url}`),
            }),
      },
      (s: SimStage) => {
        if (json) return printJson(s);
        say(stageLine(s, s.rss_mb));
        say(stageBreakdown(s));
      },
    );
    const end = result.stages.at(-1)?.test_accuracy ?? NaN;
    const at = (stage: number) => result.stages.find((s) => s.stage === stage)?.test_accuracy ?? NaN;
    const swap = upgrade && {
      accuracy_before_upgrade: at(upgrade.stage - 1),
      accuracy_after_upgrade: at(upgrade.stage),
    };
    if (json)
      return printJson({
        team: result.team,
        slots: result.slots,
        peers: result.peers,
        accuracy_start: result.accuracyStart,
        ...swap,
        accuracy_end: end,
        seconds: result.seconds,
        memory_per_peer_gib: +(result.memoryPerPeer / 2 ** 30).toFixed(2),
        memory: result.memory,
        ...(result.relayedBytes !== undefined ? { relayed_bytes: result.relayedBytes } : {}),
        excluded: result.excluded,
        stages: result.stages,
      });
    say(
      `team ${result.team}: ${result.slots} slots, ${result.peers} peers, test accuracy ` +
        `${pct(result.accuracyStart)} -> ${pct(end)} in ${result.stages.length} stages, ` +
        `${result.seconds.toFixed(0)} s`,
    );
    for (const m of result.memory)
      say(
        `${m.peer}: peak ${m.peak_mb} MiB, its plan ${m.planned_mb} MiB ` +
          `(${m.peak_mb >= m.planned_mb ? '+' : ''}${((100 * (m.peak_mb - m.planned_mb)) / m.planned_mb).toFixed(0)}%)`,
      );
    for (const s of result.stages)
      for (const a of s.agents.filter((x) => x.skipped))
        say(
          `stage ${s.stage}: slot ${a.slot}'s update ` +
            (a.refused ? `refused: ${a.refused}` : 'skipped: its peer went silent or held the token too long'),
        );
    for (const e of result.excluded) say(`excluded ${e.name} (${e.peer}) from stage ${e.from} on: ${e.why}`);
    if (swap)
      say(
        `upgrade of slot ${upgrade.slot} at stage ${upgrade.stage}: ${pct(swap.accuracy_before_upgrade)} before ` +
          `(after stage ${upgrade.stage - 1}), ${pct(swap.accuracy_after_upgrade)} after its first stage`,
      );
  },
};
