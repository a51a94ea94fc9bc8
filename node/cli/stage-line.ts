// A stage as a line of the stage table, alike in `sat-peer train`, `start` and `sim`: its order, reward,
// held-out accuracy, each agent's update (a newcomer's Stage-0 ball while it enters) and the reward change
// measured on the held-out prompts; under it, the paper's bound with its terms and where the time went.
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

interface StageLineAgent {
  name: string;
  klQuantile: number;
  delta: number;
  accepted: boolean;
  /** The kept step along the update's move (docs/design §1.9): above 1 grown, below it backtracked (absent: 1). */
  step?: number;
  /** Its peer fell silent while it held the token: the stage went on without its update. */
  skipped?: boolean;
  /** Why its update was refused (then it is skipped too). */
  refused?: string;
  stage0?: { deltaFrom: number; delta: number; released: boolean };
}

/** What a stage line shows of a stage-log row. */
export interface StageLineRow {
  stage: number;
  order: readonly number[];
  reward: number;
  test_accuracy: number;
  test_avg_at_k: number;
  agents: readonly StageLineAgent[];
  /** Absent from a row saved before the reward change was measured. */
  rewardChange?: { estimate: number; confidence: number };
  seconds: number;
}

/** Where the stage's bound and time went (the second line sim prints under each stage). */
export interface StageBreakdownRow {
  certificate: {
    lowerBound: number;
    infoGain: number;
    occupancyShift: number;
    estimatorBias: number;
    finiteSample: number;
  };
  /** `verify`: the replicas' checks of the updates (docs/design §4.16), where a team has replicas. */
  time: { rollout: number; update: number; eval?: number; network: number; verify?: number };
}

const AGENTS_WIDTH = 76;
const CHANGE_WIDTH = 13;
const signed = (x: number) => `${x < 0 ? '-' : '+'}${Math.abs(x).toFixed(3)}`;

/** The table's header, for avg@`k`; `memory` adds the peak-memory column. */
export function stageHeader(k: number, memory = false): string {
  return [
    'stage',
    'order',
    'reward',
    'test acc'.padStart(8),
    `avg@${k}`.padStart(6),
    'per agent (KL quantile/delta x step; ball: Stage-0)'.padEnd(AGENTS_WIDTH),
    'reward change'.padStart(CHANGE_WIDTH),
    'seconds',
    ...(memory ? ['peak MiB'] : []),
  ].join('  ');
}

/** One stage's line of the table; `rssMb` fills the peak-memory column. */
export function stageLine(row: StageLineRow, rssMb?: number): string {
  return [
    String(row.stage).padStart(5),
    row.order.join('>').padEnd(5),
    row.reward.toFixed(3).padStart(6),
    pct(row.test_accuracy).padStart(8),
    pct(row.test_avg_at_k).padStart(6),
    row.agents.map(agentCell).join(', ').padEnd(AGENTS_WIDTH),
    (row.rewardChange ? `${signed(row.rewardChange.estimate)}±${row.rewardChange.confidence.toFixed(3)}` : '').padStart(
      CHANGE_WIDTH,
    ),
    row.seconds.toFixed(1).padStart(7),
    ...(rssMb === undefined ? [] : [String(rssMb).padStart(8)]),
  ].join('  ');
}

/** The certificate's terms and where the stage's time went, indented under its line. */
export function stageBreakdown({ certificate: c, time }: StageBreakdownRow): string {
  return (
    `       paper's bound ${c.lowerBound.toExponential(2)} = info gain ${c.infoGain.toExponential(2)} - occupancy shift ` +
    `${c.occupancyShift.toExponential(2)} - estimator bias ${c.estimatorBias.toExponential(2)} - finite ` +
    `sample ${c.finiteSample.toExponential(2)}; time: rollout ${time.rollout.toFixed(1)} s, updates ` +
    `${time.update.toFixed(1)} s, ${time.verify !== undefined ? `replicas' checks ${time.verify.toFixed(1)} s, ` : ''}` +
    `evaluation ${(time.eval ?? 0).toFixed(1)} s, network ${time.network.toFixed(1)} s`
  );
}

function agentCell(a: StageLineAgent): string {
  if (a.skipped) return `${a.name} ${a.refused ? 'refused' : 'skipped'}`;
  if (a.stage0) {
    const { deltaFrom, delta, released } = a.stage0;
    return `${a.name} ball ${deltaFrom.toPrecision(2)}->${released ? 'released' : delta.toPrecision(2)}`;
  }
  const kl = a.klQuantile.toExponential(1);
  return a.accepted ? `${a.name} ${kl}/${a.delta} x${(a.step ?? 1).toPrecision(2)}` : `${a.name} ${kl} rejected`;
}
