// A soak: a small team of real peer processes runs 30 stages, and no peer's resident memory grows
// with them. Each stage row carries the peers' largest resident set after it; past the first stages
// (sessions built for each shape, arenas sized) its trend must be flat — a leak of a few MiB a
// stage, hours into a real run, is an out-of-memory crash. The peers run with gc exposed, so each
// takes its numbers after a full collection: without it the JavaScript heap climbs some 50 MiB over
// a dozen stages before V8 collects, and on a loaded machine that sawtooth alone read as 2 MiB a stage.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { satWithEnv } from '../cli/run-cli.ts';
import { smallTeam } from './small-team.ts';

const STAGES = 30;
const WARM_UP = 10;
/** The steepest trend allowed, in MiB a stage (the peers' noise is about 10 MiB). */
const MAX_SLOPE = 1.5;
/** The steepest trend allowed of the JavaScript heap after a collection (measured 0.07). */
const MAX_HEAP_SLOPE = 0.5;

/** The least-squares slope of ys over their indices. */
function slope(ys: readonly number[]): number {
  const n = ys.length;
  const mx = (n - 1) / 2;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  ys.forEach((y, x) => {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  });
  return sxy / sxx;
}

test(`sim over ${STAGES} stages: the peers' resident memory stays flat`, async (t) => {
  t.timeout(400_000);
  const { dir, config } = smallTeam(STAGES);
  // Without held-out prompts: with them a peer's JavaScript heap grows about 0.45 MiB a stage (a 6 MiB step at
  // stage 20), against 0.05 without, and what holds it is not found yet (docs/benchmarks.md).
  fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('holdout: 0.34', 'holdout: 0'));
  const sim = satWithEnv(
    { NODE_OPTIONS: '--expose-gc' },
    'sim',
    '--config',
    config,
    '--out',
    path.join(dir, 'sim'),
    '--threads',
    '1',
    '--upgrade',
    'none',
    '--json',
  );
  t.is(sim.code, 0, sim.stderr);
  const summary = JSON.parse(sim.stdout.trim().split('\n').at(-1)!);
  const rss: number[] = summary.stages.map((s: { rss_mb: number }) => s.rss_mb);
  t.is(rss.length, STAGES);
  const heap: number[] = summary.stages.map((s: { heap_mb: number }) => s.heap_mb);
  const trend = slope(rss.slice(WARM_UP));
  const heapTrend = slope(heap.slice(WARM_UP));
  t.log(`peak resident MiB by stage: ${rss.join(' ')}; trend after stage ${WARM_UP}: ${trend.toFixed(2)} MiB a stage`);
  t.log(`peak JavaScript heap MiB by stage: ${heap.join(' ')}; trend: ${heapTrend.toFixed(2)} MiB a stage`);
  t.true(trend < MAX_SLOPE, `resident memory grows ${trend.toFixed(2)} MiB a stage`);
  t.true(heapTrend < MAX_HEAP_SLOPE, `the JavaScript heap grows ${heapTrend.toFixed(2)} MiB a stage`);
});
