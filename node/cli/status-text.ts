// `sat-peer status` in the terminal: a process's roster, stage and token, accuracy and reward by stage,
// where the last stages' time went, and its latest warnings — the status page's content as lines.
import type { LogEntry, StagePoint, StatusSnapshot } from '../ops/status-snapshot.ts';
import { SHORT_ID_CHARS } from '../util/short-id.ts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const age = (s?: number) => (s === undefined ? '-' : s < 60 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);

/** Accuracy and reward by stage, then the time split of the last few. */
export function stageLines(stages: readonly StagePoint[], last = 5): string[] {
  if (!stages.length) return ['no stage logged yet'];
  return [
    'stage  test acc  reward  seconds',
    ...stages.map(
      (p) =>
        `${String(p.stage).padStart(5)}  ${pct(p.accuracy).padStart(8)}  ${p.reward.toFixed(3).padStart(6)}  ` +
        `${p.seconds.toFixed(1).padStart(7)}`,
    ),
    '',
    `time split of the last ${Math.min(last, stages.length)} stages:`,
    ...stages.slice(-last).map(
      (p) =>
        `  stage ${p.stage}: ${Object.entries(p.time)
          .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
          .join(', ')}`,
    ),
  ];
}

const errorLines = (errors: readonly LogEntry[]) =>
  errors.length
    ? errors.map((e) => `  ${new Date(e.time).toISOString().slice(11, 19)} ${e.level.padEnd(5)} ${e.line}`)
    : ['  none'];

/** A running process's status as lines. */
export function statusLines(s: StatusSnapshot, url: string): string[] {
  const token = s.token
    ? s.token.position < 0
      ? 'not started'
      : `position ${s.token.position}${s.token.slot !== undefined ? ` (slot ${s.token.slot})` : ''}, last heard ` +
        `${age(s.token.silentS)} ago`
    : '-';
  return [
    `${s.role} ${s.joining ? '(joining its team)' : s.peerId}${s.slot !== undefined ? `, slot ${s.slot}` : ''} at ${url}`,
    ...(s.team ? [`team ${s.team}`] : []),
    `stage ${s.stage} (${s.stagesDone} done), token ${token}, ${s.connections} peer${s.connections === 1 ? '' : 's'} connected`,
    '',
    ...(s.roster.length
      ? [
          `slot  ${'peer'.padEnd(SHORT_ID_CHARS)}   claimed  heartbeat  stage`,
          ...s.roster.map(
            (r) =>
              `${String(r.slot).padStart(4)}  ${(r.peer ?? 'vacant').padEnd(SHORT_ID_CHARS)}  ` +
              `${age(r.claimAgeS).padStart(8)}  ${age(r.heartbeatAgeS).padStart(9)}  ` +
              `${String(r.stage ?? '-').padStart(5)}${r.self ? '  (this peer)' : ''}` +
              (r.replicas ? `  replicas ${r.replicas.join(', ')}` : ''),
          ),
          '',
        ]
      : []),
    ...(s.excluded?.length
      ? [...s.excluded.map((e) => `excluded ${e.peer} from stage ${e.from} on: ${e.why}`), '']
      : []),
    ...stageLines(s.stages),
    '',
    'latest warnings and errors:',
    ...errorLines(s.errors),
  ];
}
