// What the operator's view serves (docs/design §7): a snapshot of a running process for the status page and
// `sat-peer status`, and its metrics for Prometheus. A source builds both on request; node/ops knows only
// these shapes, never where their numbers come from.

/** One slot of the roster as this process sees it. */
export interface RosterEntry {
  slot: number;
  /** The holder's peer id, shortened; undefined while no claim on the slot is live. */
  peer?: string;
  /** Seconds since the holder first claimed the slot (the older, the more senior). */
  claimAgeS?: number;
  /** Seconds since the holder was last heard (a claim or a heartbeat). */
  heartbeatAgeS?: number;
  /** The stage its last heartbeat named. */
  stage?: number;
  /** Whether the holder is this process. */
  self: boolean;
  /** The slot's replicas (docs/design §4.16) in line order, shortened; this process marked with a trailing '*'. */
  replicas?: string[];
}

/** One finished stage: what the chart and the time split show. */
export interface StagePoint {
  stage: number;
  /** The team's held-out accuracy after the stage, 0..1. */
  accuracy: number;
  /** The mean reward of the stage's rollouts. */
  reward: number;
  /** Seconds by part of the stage (rollout, update, network, eval, ...), as the stage logged them. */
  time: Record<string, number>;
  seconds: number;
}

/** A warning or error line the process printed. */
export interface LogEntry {
  /** Milliseconds since the Unix epoch. */
  time: number;
  level: 'warn' | 'error';
  line: string;
}

export interface StatusSnapshot {
  /** 'peer' or 'bootstrap'. */
  role: string;
  /** This process's peer id, in full ('' while it is joining). */
  peerId: string;
  /**
   * Whether the process is still joining its team (reading its model, finding its peers, claiming a slot): it has
   * no peer id, roster or token yet; its stages are those its data dir logged before.
   */
  joining?: boolean;
  team?: string;
  slot?: number;
  /** The stage this process is in, and the last it finished. */
  stage: number;
  stagesDone: number;
  /** The token's position in the current stage (the highest known held; -1 before the first) and its holder's slot. */
  token?: { position: number; slot?: number; silentS: number };
  roster: RosterEntry[];
  /** Peers this process excluded from the team (docs/design §4.15): who (shortened), from which stage, and why. */
  excluded?: { peer: string; from: number; why: string }[];
  stages: StagePoint[];
  /** Peers connected now. */
  connections: number;
  errors: LogEntry[];
  /** Milliseconds since the Unix epoch, when the snapshot was taken. */
  time: number;
}

/** One Prometheus metric: its name without the `sat_` prefix, and its samples now. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labels?: readonly string[];
  samples: { labels?: Record<string, string>; value: number }[];
}

/** Where the server reads what it serves, at each request. */
export interface StatusSource {
  snapshot(): StatusSnapshot;
  metrics(): MetricFamily[];
}
