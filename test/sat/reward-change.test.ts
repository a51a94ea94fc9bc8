// The stage's reward change (docs/design §1.11): on a bandit whose change is known it is unbiased and its
// lower bound covers the truth as often as it says; nothing moved reads as no change; and on the embedded
// team, no stage claims a gain that the held-out evaluation after it contradicts beyond its confidence term.
import test from 'ava';
import path from 'node:path';
import { probit } from 'simple-statistics';
import { parseConfig } from '../../node/config/load.ts';
import { sampledMetrics } from '../../node/sat/evaluate.ts';
import { rewardChange } from '../../node/sat/reward-change.ts';
import { runStage } from '../../node/sat/stage.ts';
import type { Trajectory } from '../../node/sat/stage-rollout.ts';
import { buildTeam, releaseTeam } from '../../node/sat/team.ts';
import { seededRng } from '../../node/tasks/dataset.ts';

/** A one-token transcript of slot 0: action `a` with reward `r`, its log-prob under pi_cur and pi_new. */
function row(group: number, a: number, r: number, cur: number[], next: number[] | null): Trajectory {
  const transcript = { promptIds: [1], turns: [{ slot: 0, ids: [a], logprobs: [Math.log(cur[a])] }] };
  return {
    transcript,
    reward: r,
    group,
    heldOut: true,
    layout: { sequences: [[1, a]], turns: [{ sequence: 0, span: [1, 2] }] },
    logpCur: [Float32Array.of(Math.log(cur[a]))],
    values: [new Float32Array(0)],
    logpNew: [next ? Float32Array.of(Math.log(next[a])) : undefined],
  } as Trajectory;
}

// A bandit of four actions: pi_cur, pi_new, and each action's probability of reward 1 (per prompt the same).
const CUR = [0.4, 0.3, 0.2, 0.1];
const NEW = [0.25, 0.35, 0.3, 0.1];
const WIN = [0.2, 0.5, 0.9, 0.6];
const TRUE_CHANGE = NEW.reduce((s, p, a) => s + (p - CUR[a]) * WIN[a], 0);

/** `groups` prompts of `g` samples of the bandit under pi_cur, and their log-probs under `next` (null: no update). */
function bandit(rng: () => number, groups: number, g: number, next: number[] | null = NEW): Trajectory[] {
  const rows: Trajectory[] = [];
  for (let k = 0; k < groups; k++)
    for (let j = 0; j < g; j++) {
      let u = rng();
      const a = CUR.findIndex((p) => (u -= p) < 0);
      rows.push(row(k, a, rng() < WIN[a] ? 1 : 0, CUR, next));
    }
  return rows;
}

test('on a bandit the estimate is unbiased and its lower bound holds as often as delta_conf says', (t) => {
  const rng = seededRng('reward-change');
  const big = rewardChange(bandit(rng, 20_000, 4), 0.05, 20_000);
  t.is(big.groups, 20_000);
  t.true(
    Math.abs(big.estimate - TRUE_CHANGE) < 4 * (big.confidence / probit(0.95)),
    `estimate ${big.estimate} vs the true change ${TRUE_CHANGE}`,
  );
  let covered = 0;
  const runs = 400;
  for (let k = 0; k < runs; k++) if (rewardChange(bandit(rng, 64, 4), 0.05, 64).lowerBound <= TRUE_CHANGE) covered++;
  t.true(covered / runs >= 0.92, `the bound held in ${covered} of ${runs} runs`);
  t.true(covered < runs, 'and it is no wider than it needs to be');
});

test('a stage whose updates moved nothing measured no change', (t) => {
  const rng = seededRng('unmoved');
  for (const next of [null, CUR]) {
    const none = rewardChange(bandit(rng, 32, 4, next), 0.05, 32);
    t.deepEqual(none, { estimate: 0, confidence: 0, lowerBound: 0, groups: 32 });
  }
  t.deepEqual(rewardChange([], 0.05, 32), { estimate: 0, confidence: 0, lowerBound: 0, groups: 0 });
  const one = rewardChange(bandit(rng, 1, 8), 0.05, 1);
  t.is(one.confidence, Infinity, 'one prompt gives no spread: its change is not bounded');
  // In the ensemble each agent answers every prompt in its own group (k P + g): a prompt is one unit.
  const members = [...bandit(rng, 16, 4), ...bandit(rng, 16, 4).map((r) => ({ ...r, group: r.group + 16 }))];
  t.is(rewardChange(members, 0.05, 16).groups, 16);
});

const DEMO = new URL('../../models/demo/', import.meta.url).pathname;

test("no stage claims a gain that the held-out evaluation after it contradicts beyond that evaluation's confidence", async (t) => {
  const cfg = parseConfig(
    `
seed: 11
dataset: { train_path: ${DEMO}/train.jsonl, test_path: ${DEMO}/test.jsonl }
data: { train_batch_size: 48, max_response_length: 24 }
generation: { temperature: 0.7 }
algorithm: { kl_ctrl: { kl_coef: 0.01, target_kl: 0.02, quantile: 0.9 } }
actor_rollout_ref: { actor: { ppo_epochs: 2 } }
certificate: { holdout: 0.25 }
sat:
  group_size: 4
  scheduler: { mode: random }
  max_step_growths: 3
  agents: [{ name: a, path: ${DEMO}/tiny-weak }, { name: b, path: ${DEMO}/tiny-weak }]
training: { learning_rate: 0.0003, weight_decay: 0, warmup_steps: 0, lora: null }
`,
    'yaml',
    path.join(DEMO, 'test.yaml'),
  );
  const team = await buildTeam(cfg, 1);
  const problems = team.test.slice(0, 150);
  const k = 4;
  // Each problem's share of K samples answered right, with one seed at every stage (common random numbers).
  const shares = async () => {
    const { predictions } = await sampledMetrics(team, problems, k, cfg.generation, 5, 24);
    return problems.map((_, i) => predictions.slice(i * k, (i + 1) * k).filter((p) => p.correct).length / k);
  };
  let before = await shares();
  for (let stage = 1; stage <= 3; stage++) {
    const { rewardChange: claimed } = await runStage(team, cfg, stage);
    const after = await shares();
    const diffs = after.map((x, i) => x - before[i]);
    const measured = diffs.reduce((s, x) => s + x, 0) / diffs.length;
    const sd = Math.sqrt(diffs.reduce((s, x) => s + (x - measured) ** 2, 0) / (diffs.length - 1));
    const evalConfidence = (probit(0.95) * sd) / Math.sqrt(diffs.length);
    t.is(claimed.groups, 12, 'a quarter of the 48 prompts is held out');
    t.true(claimed.confidence > 0 && Number.isFinite(claimed.confidence));
    t.true(
      claimed.lowerBound <= measured + evalConfidence,
      `stage ${stage}: claimed at least ${claimed.lowerBound}, measured ${measured} +- ${evalConfidence}`,
    );
    before = after;
  }
  await releaseTeam(team);
});
