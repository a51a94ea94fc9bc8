// The trust-region update of one agent on the embedded weak model: accepted updates stay within the
// KL bound and move log-probs the way the advantages say; an unreachable bound backtracks, grows beta
// and leaves the agent exactly as it was.
import test from 'ava';
import { Agent } from '../../../node/agent/agent.ts';
import { type UpdateBatch, miniBatches, trustRegionUpdate } from '../../../node/agent/learner/update.ts';

const WEAK = new URL('../../../models/demo/tiny-weak/', import.meta.url).pathname;
const lora = { kind: 'lora' as const, lora: { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] } };
const rows = [
  [40, 41, 42, 43, 44, 45, 46, 47],
  [50, 52, 54, 56, 58, 60],
];
const positions = [
  [5, 6, 7],
  [3, 4, 5],
];

async function batchFor(agent: Agent): Promise<UpdateBatch> {
  const logpOld = await agent.logprobsAt(rows, positions);
  return {
    rows,
    positions,
    logpOld,
    isWeights: positions.map((p) => new Float64Array(p.length).fill(1)),
    advantages: [1, -1],
  };
}
/** A LoRA agent on the weak model that every update test starts from. */
const make = () =>
  new Agent({
    name: 'a',
    dir: WEAK,
    trainable: lora,
    optimizer: { lr: 3e-3, weightDecay: 0 },
    beta: 0.01,
    seed: 1,
    session: { threads: 1 },
  });
const params = (a: Agent) => new Map([...a.trainer.parameters].map(([n, p]) => [n, p.slice()]));
const sum = (xs: Float32Array) => xs.reduce((s, x) => s + x, 0);

test('an accepted update stays within the KL bound and follows the advantages', async (t) => {
  const agent = make();
  const b = await batchFor(agent);
  const rec = await trustRegionUpdate(agent, b, {
    epsilon: 0.2,
    targetKl: 0.5,
    quantile: 0.9,
    maxBacktracks: 3,
    steps: 3,
  });
  t.true(rec.accepted);
  t.true(rec.klQuantile <= 0.5);
  t.true(sum(rec.logpNew[0]) > sum(b.logpOld[0]), 'positive advantage: more likely');
  t.true(sum(rec.logpNew[1]) < sum(b.logpOld[1]), 'negative advantage: less likely');
  t.true(rec.gain > 0, `surrogate gain ${rec.gain}`);
  t.deepEqual(rec.logpNew, await agent.logprobsAt(rows, positions));
  t.deepEqual(
    agent.trainer.liveBuckets,
    [],
    'its training sessions, and their memory, are not held until the next update',
  );
  await agent.release();
});

test('a bound the full step exceeds is met by halving the step back, and beta grows per halving', async (t) => {
  const probe = make();
  const b = await batchFor(probe);
  const cfg = { epsilon: 0.2, quantile: 0.5, maxBacktracks: 4, steps: 3 };
  const full = await trustRegionUpdate(probe, b, { ...cfg, targetKl: 1e9 });
  await probe.release();
  const agent = make();
  const rec = await trustRegionUpdate(agent, b, { ...cfg, targetKl: full.klQuantile / 3 });
  t.true(rec.accepted);
  t.true(rec.backtracks >= 1, `backtracks ${rec.backtracks}`);
  t.true(rec.klQuantile <= full.klQuantile / 3);
  t.true(Math.abs(agent.beta - 0.01 * 1.5 ** rec.backtracks) < 1e-12);
  t.is(rec.step, 0.5 ** rec.backtracks);
  t.is(agent.trainer.step, 3, "the passes' optimizer steps are kept");
  t.deepEqual(rec.logpNew, await agent.logprobsAt(rows, positions));
  await agent.release();
});

test('a bound the trained step leaves room in is met by growing the step along its move, optimizer state kept', async (t) => {
  const probe = make();
  const b = await batchFor(probe);
  const cfg = { epsilon: 0.2, quantile: 0.5, maxBacktracks: 4, steps: 3 };
  const trained = await trustRegionUpdate(probe, b, { ...cfg, targetKl: 1e9 });
  t.is(trained.step, 1, 'without maxGrowths the trained step is kept');
  await probe.release();
  const agent = make();
  const delta = trained.klQuantile * 6;
  const rec = await trustRegionUpdate(agent, b, { ...cfg, targetKl: delta, maxGrowths: 3 });
  t.true(rec.accepted);
  t.is(rec.backtracks, 0);
  t.true(rec.step > 1.5, `step ${rec.step}`);
  t.true(rec.klQuantile > trained.klQuantile && rec.klQuantile <= delta, `KL quantile ${rec.klQuantile} of ${delta}`);
  t.is(agent.beta, 0.01, 'growing does not touch beta');
  t.is(agent.trainer.step, 3, "the passes' optimizer steps are kept");
  t.deepEqual(rec.logpNew, await agent.logprobsAt(rows, positions), 'the agent stands at the kept step');
  await agent.release();
});

test('an unreachable KL bound backtracks max_backtracks + 1 times, grows beta and restores the agent exactly', async (t) => {
  const agent = new Agent({
    name: 'a',
    dir: WEAK,
    trainable: lora,
    optimizer: { lr: 3e-3 },
    beta: 0.1,
    seed: 1,
    session: { threads: 1 },
  });
  const b = await batchFor(agent);
  const before = params(agent);
  const rec = await trustRegionUpdate(agent, b, {
    epsilon: 0.2,
    targetKl: 1e-12,
    quantile: 0.5,
    maxBacktracks: 2,
    steps: 2,
  });
  t.false(rec.accepted);
  t.is(rec.backtracks, 3);
  t.true(Math.abs(agent.beta - 0.1 * 1.5 ** 3) < 1e-12, `beta ${agent.beta}`);
  t.is(rec.gain, 0);
  t.deepEqual(rec.logpNew, b.logpOld);
  t.true([...agent.trainer.parameters].every(([n, p]) => p.every((x, k) => x === before.get(n)![k])));
  t.is(agent.trainer.step, 0, 'the optimizer step is restored too');
  await agent.release();
});

test('ppo_mini_batch_size: each pass takes the batch in slices, one optimizer step each', async (t) => {
  const [whole, sliced] = [make(), make()];
  const b = await batchFor(whole);
  // A bound every step fits, so no backtracking rewinds the step count.
  const cfg = { epsilon: 0.2, targetKl: 1e9, quantile: 0.9, maxBacktracks: 3, steps: 2 };
  const a = await trustRegionUpdate(whole, b, cfg);
  const m = await trustRegionUpdate(sliced, b, { ...cfg, miniBatch: 1 });
  t.is(whole.trainer.step, 2);
  t.is(sliced.trainer.step, 4, '2 passes x 2 slices of one trajectory');
  t.true(a.accepted && m.accepted);
  t.notDeepEqual(m.logpNew, a.logpNew);
  const slices = miniBatches(
    {
      ...b,
      rows: [...b.rows, rows[0]],
      positions: [...b.positions, positions[0]],
      logpOld: [...b.logpOld, b.logpOld[0]],
      isWeights: [...b.isWeights, b.isWeights[0]],
      advantages: [1, -1, 0.5],
    },
    2,
  );
  t.deepEqual(
    slices.map((s) => s.advantages),
    [[1, -1], [0.5]],
  );
  t.is(miniBatches(b, 0).length, 1);
  await whole.release();
  await sliced.release();
});

test('an agent with micro-batches of one row makes the same update in as many optimizer steps, in less memory', async (t) => {
  const make = (microBatch?: number) =>
    new Agent({
      name: 'a',
      dir: WEAK,
      trainable: lora,
      optimizer: { lr: 3e-3, weightDecay: 0 },
      beta: 0.01,
      seed: 1,
      session: { threads: 1 },
      ...(microBatch ? { microBatch } : {}),
    });
  const [whole, micro] = [make(), make(1)];
  const b = await batchFor(whole);
  t.deepEqual(await micro.logprobsAt(rows, positions), b.logpOld, 'scored a row at a time, the log-probs are the same');
  const cfg = { epsilon: 0.2, targetKl: 1e9, quantile: 0.9, maxBacktracks: 3, steps: 2 };
  const a = await trustRegionUpdate(whole, b, cfg);
  const m = await trustRegionUpdate(micro, b, cfg);
  t.is(
    micro.trainer.step,
    whole.trainer.step,
    'one optimizer step per pass, its gradient summed over the micro-batches',
  );
  t.true(a.accepted && m.accepted);
  let worst = 0;
  a.logpNew.forEach((lps, r) =>
    lps.forEach((x, k) => {
      worst = Math.max(worst, Math.abs(x - m.logpNew[r][k]));
    }),
  );
  t.true(worst < 1e-4, `log-probs after the update differ by ${worst}`);
  t.true(Math.abs(a.klQuantile - m.klQuantile) < 1e-6 + 1e-3 * a.klQuantile);
  await whole.release();
  await micro.release();
});
