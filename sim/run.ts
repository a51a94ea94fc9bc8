// `sat-peer sim`: a whole team on this machine, every piece a real process — a sat-bootstrap peer and
// one `sat-peer start` per peer (a trainer a slot, and its replicas) on 127.0.0.1, joined through the bootstrap. It writes the team file,
// starts them, follows each peer's JSON stage events and reports a stage once every peer has logged
// it (the peers must agree on every number), then stops them.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { availableMemory } from '../node/gpu/device-memory.ts';
import type { StageCertificate } from '../node/sat/certificate.ts';
import type { RewardChange } from '../node/sat/reward-change.ts';
import { HEARTBEAT_MS, LIVENESS_MS } from '../node/protocol/roster.ts';
import type { AdversaryKind } from './adversaries.ts';
import { type LinkShape, ShapedLink, freePort } from './link.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAT_PEER = path.join(ROOT, 'bin', 'sat-peer.js');
const SAT_BOOTSTRAP = path.join(ROOT, 'bin', 'sat-bootstrap.js');
/** `sat-peer start` as one of the sim's adversaries (sim/adversaries.ts). */
const ADVERSARY_PEER = path.join(ROOT, 'sim', 'adversary-peer.js');
/** The embedded team `sat-peer sim` runs by default: three peers on three-step arithmetic, and a newcomer. */
export const DEFAULT_CONFIG = path.join(ROOT, 'models', 'demo3', 'demo.yaml');
/**
 * How long the team may go without an event (a stage, a turn) before the sim gives up on it (at least ten deadlines).
 */
const STALL_MS = 5 * 60_000;

export interface SimOptions {
  config: string;
  /** The team's seed, in place of the config's. */
  seed?: number;
  /** Stages to run (default the config's training.num_stages). */
  stages?: number;
  /** The team's slots (default one per agent of the config; more repeat its last agent). */
  slots?: number;
  /**
   * Each slot's replicas besides its trainer (docs/design §4.16), by slot (none for a slot it leaves out), started once
   * the trainers hold their slots.
   */
  replicas?: readonly number[];
  /** Where the team file, the bootstrap's and every peer's data go (emptied first). */
  out: string;
  /** Intra-op threads per peer (default: every core; the peers of a chain mostly take turns). */
  threads?: number;
  /** A newcomer peer with another model takes `slot` over from `stage` on, through Stage-0. */
  upgrade?: { slot: number; model: string; stage: number };
  /**
   * The peer of `slot` is killed (SIGKILL) when it takes the token in `stage` (`at` 'update', the
   * default) or when it starts the stage's evaluation ('eval'), and started again from its data dir — or, with `wipe`,
   * on an empty one.
   */
  kill?: { slot: number; stage: number; at?: 'update' | 'eval'; wipe?: boolean };
  /** Token-passing deadline of every peer, in seconds (default the peers'). */
  deadline?: number;
  /** These slots' peers are adversaries of these kinds: the honest peers must catch them. */
  adversaries?: { kind: AdversaryKind; slot: number; replica?: number }[];
  /** Every peer (and the bootstrap) is reached through a relay with this latency and loss. */
  link?: LinkShape;
  /** Every peer serves its status page on a free loopback port (start --http 127.0.0.1:0). */
  http?: boolean;
  /** Hears where each peer's status page is, once it serves it (a restarted peer's again). */
  onStatusPage?: (page: { peer: string; slot: number; url: string }) => void;
  log?: (line: string) => void;
}

/** One stage as every peer logged it (the peers' numbers agree; `seconds` is the slowest peer's). */
export interface SimStage {
  stage: number;
  order: number[];
  reward: number;
  test_accuracy: number;
  /** The team's avg@K and pass@K on the held-out set; each agent's own avg@K is in its entry (test_avg_at_k). */
  test_avg_at_k: number;
  test_pass_at_k: number;
  k: number;
  agents: {
    slot: number;
    name: string;
    klQuantile: number;
    delta: number;
    beta: number;
    backtracks: number;
    step: number;
    accepted: boolean;
    skipped?: true;
    refused?: string;
    stage0?: { deltaFrom: number; delta: number; released: boolean };
  }[];
  rewardChange: RewardChange;
  certificate: StageCertificate;
  seconds: number;
  /**
   * Where the stage's time went, in seconds: the rollout (the slowest peer's, remote turns
   * included), the updates (every peer's, one after another), the held-out evaluation (the
   * slowest peer's), and the rest of the stage: waiting on the network (the token, updates in flight).
   */
  time: { rollout: number; update: number; eval: number; network: number; verify?: number };
  /**
   * Bytes the honest peers sent in the stage, by what carried them: gossip (claims, heartbeats, announcements,
   * attestations, token passes), blocks (shards and updates), chunks (an update's weights, slot states), token (direct
   * passes) and other (identify, the DHT, ping).
   */
  bytes?: Record<string, number>;
  /** Chunks of the shared turns each peer made (docs/design §4.17), by sim name; none when no turn was shared. */
  made?: Record<string, number>;
  /** Each slot's trainer in the stage, by sim name (an adversary's slot has none when the adversary trained it). */
  trainers?: Record<string, string>;
  /** The largest resident memory of a peer process after the stage, in MiB. */
  rss_mb: number;
  /** The largest JavaScript heap in use of a peer after the stage, in MiB. */
  heap_mb: number;
  /** The stage's digest (docs/design §4.15), as the peers that have one agree on it. */
  digest?: string;
  /** The peers excluded from the team by then, as every honest peer logged them. */
  excluded?: Exclusion[];
  [key: string]: unknown;
}

/** A peer excluded from the team: who (its sim name and peer id), from which stage, and why. */
export interface Exclusion {
  peer: string;
  name?: string;
  from: number;
  why: string;
}

export interface SimResult {
  team: string;
  /** The team's slots. */
  slots: number;
  /** Peer processes started (a newcomer included; a restart not). */
  peers: number;
  /** The team's greedy test accuracy before stage 1. */
  accuracyStart: number;
  stages: SimStage[];
  seconds: number;
  /** With a link shape: the bytes the relays carried between the processes. */
  relayedBytes?: number;
  /** The memory each peer planned its stage with (start --memory): its share of what the machine had available. */
  memoryPerPeer: number;
  /** Each peer process's peak resident memory and what its plan needed, in MiB (as its stages reported them). */
  memory: { peer: string; slot: number; peak_mb: number; planned_mb: number }[];
  /** The peers the honest peers excluded, by the end. */
  excluded: Exclusion[];
}

/**
 * The share of the machine's available memory the sim's peers plan with, together (the bootstrap and the sim need
 * little).
 */
const SIM_MEMORY_SHARE = 0.9;

export class SimError extends Error {
  override name = 'SimError';
}

/** Runs the team's stages on local processes; `onStage` hears each stage once all peers have logged it. */
export async function runSim(o: SimOptions, onStage: (s: SimStage) => void): Promise<SimResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  fs.rmSync(o.out, { recursive: true, force: true });
  fs.mkdirSync(o.out, { recursive: true });
  const teamFile = path.join(o.out, 'team.yaml');
  await runToEnd(SAT_PEER, [
    'team',
    'create',
    '--config',
    o.config,
    '--out',
    teamFile,
    ...(o.slots ? ['--slots', String(o.slots)] : []),
    ...(o.seed === undefined ? [] : ['--seed', String(o.seed)]),
  ]);
  const team = JSON.parse(await runToEnd(SAT_PEER, ['team', 'show', teamFile, '--json'])) as {
    id: string;
    stages: number;
    models: { path: string }[];
  };
  const stages = o.stages ?? team.stages;
  const n = team.models.length;
  const threads = o.threads ?? os.availableParallelism();
  const up = o.upgrade;
  if (up && (up.slot >= n || up.stage < 2 || up.stage > stages))
    throw new SimError(
      `--upgrade: the team has slots 0..${n - 1} and stages 1..${stages}; a newcomer can take a slot over at stage 2..${stages}`,
    );
  const replicasOf = (slot: number) => o.replicas?.[slot] ?? 0;
  const members = n + Array.from({ length: n }, (_, s) => replicasOf(s)).reduce((a, b) => a + b, 0);
  const processes = members + (up ? 1 : 0);
  // The peers share one machine: each plans with its share, or each would plan with all of it.
  const memoryPerPeer = (SIM_MEMORY_SHARE * availableMemory()) / processes;
  log(`each of the ${processes} peers plans its stage with ${(memoryPerPeer / 2 ** 30).toFixed(1)} GiB of memory`);

  const children: ChildProcess[] = [];
  let closeLinks = async (): Promise<unknown> => undefined;
  let stopWatchdog = () => {};
  const stopAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  // Stopped itself, it stops its processes first.
  const onSignal = (signal: NodeJS.Signals) => {
    stopAll();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // With a link shape each process listens on a port of its own and advertises its relay's instead.
    const links: { name: string; link: ShapedLink }[] = [];
    const listenOn = async (name: string): Promise<string[]> => {
      if (!o.link) return ['--listen', '/ip4/127.0.0.1/tcp/0'];
      const port = await freePort();
      const link = await ShapedLink.open({ host: '127.0.0.1', port }, o.link);
      links.push({ name, link });
      return ['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--announce', `/ip4/127.0.0.1/tcp/${link.port}`];
    };
    closeLinks = () =>
      Promise.all(
        links.map(({ name, link }) => {
          log(`the relay in front of ${name} carried ${link.bytes} bytes`);
          return link.close();
        }),
      );
    const bootstrap = start(
      SAT_BOOTSTRAP,
      [...(await listenOn('the bootstrap')), '--data-dir', path.join(o.out, 'bootstrap'), '--json'],
      children,
    );
    const { addresses } = JSON.parse(await firstLine(bootstrap, 'sat-bootstrap')) as { addresses: string[] };
    log(`bootstrap peer up at ${addresses[0]}`);

    let accuracyStart = NaN;
    let failure: Error | undefined;
    const reported = new Map<number, SimStage[]>();
    const memory = new Map<string, SimResult['memory'][number]>();
    const done: Promise<void>[] = [];
    const finished: SimStage[] = [];
    const peers: {
      slot: number;
      model: string;
      name: string;
      dir: string;
      extra: string[];
      listen: string[];
      adversary?: AdversaryKind;
      /** Which of its slot's replicas it is (none: the slot's trainer). */
      replica?: number;
    }[] = [];
    for (let slot = 0; slot < n; slot++) {
      const adversary = o.adversaries?.find((a) => a.slot === slot && a.replica === undefined)?.kind;
      peers.push({
        slot,
        model: team.models[slot].path,
        name: adversary ? `peer ${slot} (adversary: ${adversary})` : `peer ${slot}`,
        dir: `peer-${slot}`,
        extra: [],
        listen: await listenOn(`peer ${slot}`),
        ...(adversary ? { adversary } : {}),
      });
    }
    for (let replica = 1; replica <= Math.max(0, ...(o.replicas ?? [])); replica++)
      for (let slot = 0; slot < n; slot++) {
        if (replica > replicasOf(slot)) continue;
        const adversary = o.adversaries?.find((a) => a.slot === slot && a.replica === replica)?.kind;
        peers.push({
          slot,
          model: team.models[slot].path,
          name: `replica ${slot}.${replica}${adversary ? ` (adversary: ${adversary})` : ''}`,
          dir: `peer-${slot}.${replica}`,
          extra: [],
          listen: await listenOn(`replica ${slot}.${replica}`),
          replica,
          ...(adversary ? { adversary } : {}),
        });
      }
    // The honest peers log each stage alike; an adversary's rows are its own, and it is stopped once they are done.
    const honest = peers.filter((p) => !p.adversary && !p.extra.length).length;
    const adversaries: ChildProcess[] = [];
    const names = new Map<string, string>();
    if (up)
      peers.push({
        slot: up.slot,
        model: up.model,
        name: `newcomer (slot ${up.slot})`,
        dir: `peer-${up.slot}-upgrade`,
        extra: ['--upgrade-at', String(up.stage)],
        listen: await listenOn('the newcomer'),
      });
    // A team that makes no progress for long (every peer waiting on another) ends the sim, saying what each peer said
    // last.
    const lastSaid = new Map<string, string>();
    /** What each peer process had sent by its last stage, by protocol (a restarted one starts again from nothing). */
    const sentBefore = new Map<string, Record<string, number>>();
    let progress = Date.now();
    const stallMs = Math.max(STALL_MS, 10 * (o.deadline ?? 30) * 1000);
    const watchdog = setInterval(() => {
      if (Date.now() - progress < stallMs) return;
      failure ??= new SimError(
        `no peer made progress for ${Math.round(stallMs / 1000)} s; each said last: ` +
          `${[...lastSaid].map(([who, line]) => `${who}: ${line}`).join('; ') || 'nothing'}`,
      );
      stopAll();
    }, 1000);
    stopWatchdog = () => clearInterval(watchdog);
    // The trainers claim their slots first: a replica claims after them, so it ranks behind its trainer.
    const trainersJoined = new Set<string>();
    let replicasStarted = false;
    const launch = (
      { slot, model, name, dir, extra, listen, adversary, replica }: (typeof peers)[number],
      restarted = false,
    ): void => {
      const peer = start(
        adversary ? ADVERSARY_PEER : SAT_PEER,
        [
          ...(adversary ? [adversary] : []),
          'start',
          '--team',
          teamFile,
          '--model',
          model,
          '--slot',
          String(slot),
          '--data-dir',
          path.join(o.out, dir),
          ...extra,
          '--bootstrap',
          addresses[0],
          ...listen,
          '--threads',
          String(threads),
          '--stages',
          String(stages),
          '--memory',
          (memoryPerPeer / 2 ** 30).toFixed(3),
          '--json',
          ...(o.deadline ? ['--deadline', String(o.deadline)] : []),
          ...(members > n ? ['--min-peers', String(members)] : []),
          ...(o.http ? ['--http', '127.0.0.1:0'] : []),
        ],
        children,
        (line) => {
          lastSaid.set(name, line);
          log(`${name}: ${line}`);
        },
      );
      let killed = false;
      const ended = exited(peer, name).catch((err) => {
        if (!killed && !adversary) throw err;
      });
      ended.catch(() => undefined); // the first failure ends the sim below; later ones are its echoes
      if (adversary) adversaries.push(peer);
      else done.push(ended);
      readline.createInterface({ input: peer.stdout! }).on('line', (line) => {
        const event = JSON.parse(line) as { event: string; peerId?: string } & SimStage;
        if (event.event === 'joined') {
          names.set(event.peerId!, name);
          if (replica === undefined && !extra.length) trainersJoined.add(name);
          if (trainersJoined.size === n && !replicasStarted) {
            replicasStarted = true;
            // A backdated claim comes from a peer joining the running team, once the others heard every live claim.
            const late = (p: (typeof peers)[number]) => p.adversary === 'backdated-claim';
            peers.filter((p) => p.replica !== undefined && !late(p)).forEach((p) => launch(p));
            const joinLate = setTimeout(
              () => {
                if (!failure) peers.filter((p) => p.replica !== undefined && late(p)).forEach((p) => launch(p));
              },
              LIVENESS_MS + 2 * HEARTBEAT_MS,
            );
            joinLate.unref();
          }
        }
        if (adversary) return;
        progress = Date.now();
        if (event.event === 'start') accuracyStart = event.test_accuracy;
        if (event.event === 'http') o.onStatusPage?.({ peer: name, slot, url: String(event.url) });
        const killAt = o.kill?.at === 'eval' ? 'evaluating' : 'turn';
        if (
          event.event === killAt &&
          !restarted &&
          o.kill?.slot === slot &&
          o.kill.stage === event.stage &&
          !extra.length &&
          replica === undefined
        ) {
          killed = true;
          sentBefore.delete(name);
          peer.kill('SIGKILL');
          log(
            `${name}: killed (SIGKILL) as it ${killAt === 'turn' ? 'took the token' : 'started its evaluation'} ` +
              `in stage ${event.stage}; starting it again${o.kill.wipe ? ' on an empty data dir' : ''}`,
          );
          setTimeout(() => {
            if (o.kill?.wipe) fs.rmSync(path.join(o.out, dir), { recursive: true, force: true });
            launch({ slot, model, name, dir, extra, listen, ...(replica ? { replica } : {}) }, true);
          }, 1000);
        }
        if (event.event !== 'stage') return;
        const { peak_rss_mb: peak, planned_mb: planned } = event as { peak_rss_mb?: number; planned_mb?: number };
        if (peak !== undefined && planned !== undefined) {
          const was = memory.get(name);
          memory.set(name, { peer: name, slot, peak_mb: Math.max(peak, was?.peak_mb ?? 0), planned_mb: planned });
        }
        const sent = (event as { bytes_out?: Record<string, number> }).bytes_out ?? {};
        const before = sentBefore.get(name) ?? {};
        sentBefore.set(name, sent);
        const inStage = Object.fromEntries(Object.entries(sent).map(([p, n]) => [p, n - (before[p] ?? 0)]));
        const got = reported.get(event.stage) ?? [];
        got.push({ ...event, bytes_stage: inStage, peer_slot: slot, peer_name: name });
        reported.set(event.stage, got);
        if (got.length !== honest) return; // a killed peer logs its stage too, once restarted
        try {
          const row = agreed(got);
          finished.push(row);
          onStage(row);
        } catch (err) {
          failure ??= err as Error; // the peers disagree: the sim stops, saying why
          stopAll();
        }
      });
    };
    peers.filter((p) => p.replica === undefined).forEach((p) => launch(p));
    // A peer started again joins `done`: wait until every process has ended (the first failure ends the sim).
    try {
      for (let seen = 0; seen < done.length; ) {
        const now = done.length;
        await Promise.all(done.slice());
        seen = now;
      }
    } catch (err) {
      throw failure ?? err;
    }
    for (const a of adversaries) if (a.exitCode === null) a.kill('SIGTERM');
    if (failure) throw failure;
    if (finished.length < stages) throw new SimError(`the peers logged ${finished.length} of ${stages} stages`);
    return {
      team: team.id,
      slots: n,
      peers: peers.length,
      accuracyStart,
      stages: finished,
      seconds: (Date.now() - t0) / 1000,
      memoryPerPeer,
      memory: [...memory.values()],
      excluded: (finished.at(-1)?.excluded ?? []).map((e) => ({ ...e, name: names.get(e.peer) ?? 'a peer' })),
      ...(o.link ? { relayedBytes: links.reduce((sum, l) => sum + l.link.bytes, 0) } : {}),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stopWatchdog();
    stopAll();
    await closeLinks();
  }
}

/** The stage as all peers logged it; a SimError naming the first number they disagree on. */
function agreed(rows: SimStage[]): SimStage {
  const strip = ({
    seconds: _,
    event: __,
    rss_mb: ___,
    heap_mb: ____,
    time: _____,
    peak_rss_mb: ______,
    planned_mb: _______,
    excluded,
    digest: ________,
    replica: _r,
    bytes_out: _b,
    bytes_stage: _s,
    peer_slot: _p,
    peer_name: _n,
    chunks_made: _c,
    ...rest
  }: SimStage & { event?: string }) =>
    // Each excludes the same peers, each for the first of their offences it saw.
    JSON.stringify({ ...rest, excluded: (excluded ?? []).map((e) => `${e.peer}@${e.from}`).sort() });
  const first = strip(rows[0]);
  const odd = rows.findIndex((r) => strip(r) !== first);
  if (odd >= 0)
    throw new SimError(
      `the peers disagree on stage ${rows[0].stage}: ${first.slice(0, 200)} vs ${strip(rows[odd]).slice(0, 200)}`,
    );
  // A peer that restarted within the stage may have no digest of it yet; those that have one agree.
  const digests = new Set(rows.flatMap((r) => (r.digest ? [r.digest] : [])));
  if (digests.size > 1)
    throw new SimError(`the peers disagree on stage ${rows[0].stage}'s digest: ${[...digests].join(' vs ')}`);
  // Each peer's memory is its own: the summary gives it per peer (SimResult.memory).
  const {
    event: _,
    peak_rss_mb: __,
    planned_mb: ___,
    replica: _r,
    bytes_out: _b,
    bytes_stage: _s,
    peer_slot: _p,
    peer_name: _n,
    chunks_made: _c,
    ...row
  } = rows[0] as SimStage & { event?: string };
  // Who made the chunks of the shared turns (docs/design §4.17): every peer of a slot with replicas contributes.
  const made = Object.fromEntries(
    rows.flatMap((r) => (r.chunks_made ? [[String(r.peer_name), Number(r.chunks_made)]] : [])),
  );
  const most = (xs: number[]) => Math.max(...xs);
  const seconds = most(rows.map((r) => r.seconds));
  // The peers roll out and evaluate together, and update one after another.
  const rollout = most(rows.map((r) => r.time.rollout));
  const trainers = rows.filter((r) => !r.replica);
  const update = trainers.reduce((sum, r) => sum + r.time.update, 0);
  // Each slot's replicas check its update at once; the slots' updates come one after another.
  const checks = new Map<number, number>();
  for (const r of rows.filter((x) => x.replica))
    checks.set(Number(r.peer_slot), Math.max(checks.get(Number(r.peer_slot)) ?? 0, r.time.update));
  const verify = [...checks.values()].reduce((a, b) => a + b, 0);
  const evaluation = most(trainers.map((r) => r.time.eval));
  const round = (x: number) => Math.round(x * 10) / 10;
  const time = {
    rollout: round(rollout),
    update: round(update),
    eval: round(evaluation),
    network: round(Math.max(0, seconds - rollout - update - verify - evaluation)),
    ...(checks.size ? { verify: round(verify) } : {}),
  };
  const bytes: Record<string, number> = {};
  for (const r of rows)
    for (const [protocol, n] of Object.entries((r.bytes_stage ?? {}) as Record<string, number>))
      bytes[bytesKind(protocol)] = (bytes[bytesKind(protocol)] ?? 0) + n;
  return {
    ...row,
    ...(digests.size ? { digest: [...digests][0] } : {}),
    seconds,
    time,
    rss_mb: most(rows.map((r) => r.rss_mb)),
    heap_mb: most(rows.map((r) => r.heap_mb)),
    bytes,
    ...(Object.keys(made).length ? { made } : {}),
    // Who trained each slot: the honest peers that logged the stage as a trainer, not as a replica.
    trainers: Object.fromEntries(rows.flatMap((r) => (r.replica ? [] : [[String(r.peer_slot), String(r.peer_name)]]))),
  };
}

/** What carried bytes sent on `protocol` (SimStage.bytes). */
function bytesKind(protocol: string): string {
  if (protocol.startsWith('/meshsub/')) return 'gossip';
  return { '/sat/blocks/1': 'blocks', '/sat/chunks/1': 'chunks', '/sat/token/1': 'token' }[protocol] ?? 'other';
}

function start(bin: string, args: string[], children: ChildProcess[], onErr?: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  readline.createInterface({ input: child.stderr! }).on('line', (line) => onErr?.(line));
  return child;
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new SimError(`${what} exited (code ${code}) before it was up`)));
  });
}

function exited(child: ChildProcess, what: string): Promise<void> {
  const tail: string[] = [];
  readline.createInterface({ input: child.stderr! }).on('line', (l) => {
    tail.push(l);
    if (tail.length > 5) tail.shift();
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new SimError(`${what} failed (${signal ?? `code ${code}`}): ${tail.at(-1) ?? 'no output'}`));
    }),
  );
}

async function runToEnd(bin: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => {
    out += b;
  });
  child.stderr.on('data', (b) => {
    err += b;
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new SimError(err.trim().split('\n').at(-1) ?? `sat-peer ${args[0]} failed`);
  return out;
}
