// One SAT stage on the embedded team: the rollout's log-probs agree with teacher forcing, and every
// agent is updated once, in the stage's order, within its trust region. A peer holding one slot of a
// network team reaches the other through its link, and learns under that slot's update.
import test from 'ava';
import path from 'node:path';
import { loadTokenizer } from '../../node/agent/model/tokenizer.ts';
import { parseConfig } from '../../node/config/load.ts';
import { type SharedUpdate, type StageLink, type Team, runStage } from '../../node/sat/stage.ts';
import { buildTeam, releaseTeam, upgradeSlot } from '../../node/sat/team.ts';

const DEMO = new URL('../../models/demo/', import.meta.url).pathname;
const WEAK = path.join(DEMO, 'tiny-weak');

function config(extra: string, satExtra = '') {
  return parseConfig(
    `
seed: 3
dataset: { train_path: ${DEMO}/train.jsonl, test_path: ${DEMO}/test.jsonl }
data: { train_batch_size: 4, max_response_length: 24 }
sat:
  ${satExtra}
  group_size: 4
  scheduler: { mode: random }
  max_backtracks: 2
  agents: [{ name: a, path: ${WEAK} }, { name: b, path: ${WEAK} }]
actor_rollout_ref: { actor: { ppo_epochs: 2 } }
training: { learning_rate: 0.002, lora: { rank: 4, alpha: 8, targets: [q_proj, v_proj, down_proj] } }
${extra}
`,
    'yaml',
    path.join(DEMO, 'test.yaml'),
  );
}

const team = (cfg: ReturnType<typeof config>): Promise<Team> => buildTeam(cfg, 1);

const snapshotParams = (t: Team) =>
  t.agents.map((a) => new Map([...a.trainer.parameters].map(([n, p]) => [n, p.slice()])));

test('a stage updates every agent once, in its order, within the KL bound', async (t) => {
  const cfg = config('algorithm: { kl_ctrl: { target_kl: 0.5, quantile: 0.9 } }');
  const tm = await team(cfg);
  const before = snapshotParams(tm);
  const rec = await runStage(tm, cfg, 1);
  t.deepEqual([...rec.order].sort(), [0, 1]);
  t.deepEqual(
    rec.agents.map((a) => a.slot),
    rec.order,
  );
  t.true(rec.maxLogprobGap < 1e-3, `sampling vs teacher-forced log-probs differ by ${rec.maxLogprobGap}`);
  t.true(rec.reward >= 0 && rec.reward <= 1);
  for (const a of rec.agents) {
    t.is(a.n, 16);
    if (a.accepted) t.true(a.klQuantile <= 0.5, `agent ${a.name}: KL quantile ${a.klQuantile}`);
  }
  t.true(rec.agents.some((a) => a.accepted));
  const changed = tm.agents.map((a, i) =>
    [...a.trainer.parameters].some(([n, p]) => p.some((x, k) => x !== before[i].get(n)![k])),
  );
  t.deepEqual(
    changed,
    rec.agents.sort((x, y) => x.slot - y.slot).map((a) => a.accepted),
  );
  t.true(Number.isFinite(rec.certificate.lowerBound));
  await releaseTeam(tm);
});

test('two peers with the same config run the same stage: the same prompts, samples, order and updates', async (t) => {
  const cfg = config('algorithm: { kl_ctrl: { target_kl: 0.5, quantile: 0.9 } }');
  const [a, b] = [await team(cfg), await team(cfg)];
  const [{ time: ta, ...ra }, { time: tb, ...rb }] = [await runStage(a, cfg, 4), await runStage(b, cfg, 4)];
  t.deepEqual(ra, rb);
  t.true(ta.rollout > 0 && ta.update > 0 && ta.network === 0 && tb.update > 0, 'a local stage waits on no network');
  await releaseTeam(a);
  await releaseTeam(b);
});

test('in the ensemble each agent answers alone and learns from its own samples, unweighted', async (t) => {
  const cfg = config('team: { workflow: ensemble }\nalgorithm: { kl_ctrl: { target_kl: 0.5, quantile: 0.9 } }');
  const tm = await team(cfg);
  const rec = await runStage(tm, cfg, 1);
  t.true(rec.maxLogprobGap < 1e-3, `sampling vs teacher-forced log-probs differ by ${rec.maxLogprobGap}`);
  for (const a of rec.agents) {
    t.is(a.n, 16, 'its own 4 prompts x 4 samples');
    t.is(a.zeta, 0, 'no other agent speaks in its trajectories, so nothing is reweighted');
  }
  await releaseTeam(tm);
});

test('in chat turns each agent samples after its own rendering and learns from exactly the tokens it sampled', async (t) => {
  const cfg = config('team: { turns: chat }\nalgorithm: { kl_ctrl: { target_kl: 0.5, quantile: 0.9 } }');
  const tm = await team(cfg);
  const context = tm.format.contextIds({ promptIds: tm.format.promptIds('2+3'), turns: [] }, 1);
  t.regex(loadTokenizer(WEAK).decode(context), /^<\|im_start\|>system\nYou are the finalizer/);
  const rec = await runStage(tm, cfg, 1);
  t.true(rec.maxLogprobGap < 1e-3, `sampling vs teacher-forced log-probs differ by ${rec.maxLogprobGap}`);
  for (const a of rec.agents) t.is(a.n, 16);
  t.true(rec.agents.some((a) => a.accepted));
  await releaseTeam(tm);
});

test('in GAE mode each agent trains a value head from its own tokens and the stage stays within the KL bound', async (t) => {
  const cfg = config('algorithm: { kl_ctrl: { target_kl: 0.5, quantile: 0.9 } }', 'adv_mode: gae');
  t.is(cfg.sat.advMode, 'gae');
  const tm = await team(cfg);
  const rec = await runStage(tm, cfg, 1);
  t.true(rec.maxLogprobGap < 1e-3);
  for (const [i, a] of rec.agents.entries()) {
    t.true(a.accepted, `agent ${i}`);
    t.true(a.klQuantile <= 0.5);
  }
  // The head starts at zero; returns are not all zero unless every reward is, so it must have moved.
  const moved = tm.agents.map((a) => a.trainer.parameters.get('value_head.weight')!.some((x) => x !== 0));
  t.deepEqual(moved, [true, true]);
  await releaseTeam(tm);
});

test(
  'a slot upgraded through Stage-0 samples from the projection, relaxes ' +
    'its ball within the trust region and keeps its parameters',
  async (t) => {
    const cfg = config('algorithm: { kl_ctrl: { target_kl: 0.05, quantile: 0.9 } }');
    const tm = await buildTeam(cfg, 1);
    await upgradeSlot(cfg, tm, 0, path.join(DEMO, 'tiny-strong'), 0.05, 1);
    t.is(tm.agents[0].stage0?.delta, 0.05);
    const before = snapshotParams(tm);
    const rec = await runStage(tm, cfg, 2);
    // The projection sampled the newcomer's turns, and teacher forcing scores them the same.
    t.true(rec.maxLogprobGap < 1e-3, `sampling vs teacher-forced log-probs differ by ${rec.maxLogprobGap}`);
    const slot = rec.agents.find((a) => a.slot === 0)!;
    t.truthy(slot.stage0);
    t.is(slot.stage0!.deltaFrom, 0.05);
    t.true(slot.stage0!.delta > 0.05, `the ball grew: ${slot.stage0!.delta}`);
    t.true(slot.klQuantile <= 0.05);
    t.is(tm.agents[0].stage0?.delta, slot.stage0!.released ? undefined : slot.stage0!.delta);
    t.true(
      [...tm.agents[0].trainer.parameters].every(([n, p]) => p.every((x, k) => x === before[0].get(n)![k])),
      'the newcomer is not trained while in Stage-0',
    );
    t.falsy(rec.agents.find((a) => a.slot === 1)!.stage0);
    await releaseTeam(tm);
  },
);

/**
 * Slot 0's update as every peer recomputes it from its log-probs (-1 -> -0.5 on each of its 4 rows' 3 tokens): each
 * state's KL proxy e^0.5 - 1.5, within target_kl 0.5; nothing updated before it, so zeta 0; one sample a prompt, so
 * every advantage and the gain 0; no row solved by the tiny agent, so reward 0.
 */
const UPDATE_OF_SLOT_0 = {
  name: 'a',
  accepted: true,
  backtracks: 0,
  step: 1,
  beta: 0,
  klQuantile: Math.expm1(0.5) - 0.5,
  gain: 0,
  reward: 0,
  delta: 0.5,
  n: 4,
  zeta: 0,
  gap: 0,
};

/** The config of a stage where slot 0 updates first, one sample a prompt. */
function slot0First() {
  const cfg = config('algorithm: { kl_ctrl: { target_kl: 0.5, quantile: 0.9 } }');
  cfg.sat.scheduler.mode = 'static';
  cfg.sat.groupSize = 1;
  return cfg;
}

/**
 * A link to a peer holding slot 0: its turn is always `5 6 <eos>` at log-prob -1 per token, and its update (unless
 * `silent`) raises each of those to -0.5, with `claim`'s record. What this peer sends is kept in `sent`, the positions
 * it refuses in `refused`.
 */
function slot0Peer(
  eos: number,
  silent: boolean,
  claim: Partial<typeof UPDATE_OF_SLOT_0> = {},
  sent = { cur: -1, extra: 0 },
) {
  let tokens = 0;
  const sentHere: SharedUpdate[] = [];
  const refused: { position: number; why: string }[] = [];
  const link: StageLink = {
    remoteTurn: () => ({
      take: async (ts) => {
        tokens += 3 * ts.length;
        return ts.map(() => ({ tokens: [5, 6, eos], logprobs: [-1, -1, -1] }));
      },
    }),
    shareTurn: async () => {},
    setOrder: () => {},
    receiveUpdate: async (_, __, slot) =>
      silent
        ? undefined
        : {
            logpCur: new Float32Array(tokens).fill(sent.cur),
            logpNew: new Float32Array(tokens + sent.extra).fill(-0.5),
            record: { ...UPDATE_OF_SLOT_0, ...claim, slot },
          },
    awaitTurn: async () => true,
    refuseUpdate: (_, position, why) => void refused.push({ position, why }),
    refusalOverruled: () => {},
    sendUpdate: async (_, __, update) => {
      sentHere.push(update);
      return true;
    },
  };
  return { link, sent: sentHere, refused };
}

test("a peer holding one slot learns under the other peer's update, reweighting its tokens by it", async (t) => {
  const cfg = slot0First();
  const tm = await team(cfg);
  const { link, sent, refused } = slot0Peer(tm.format.endOfTurn, false);
  const rec = await runStage({ ...tm, agents: [undefined, tm.agents[1]] }, cfg, 1, link);
  t.deepEqual(rec.order, [0, 1]);
  const [first, second] = rec.agents;
  t.deepEqual(refused, []);
  t.like(first, { ...UPDATE_OF_SLOT_0, slot: 0 }, "slot 0's record is its claim, borne out by its log-probs");
  t.true(second.accepted && second.zeta > 0, 'slot 0 made its tokens likelier, so rho > 1 on slot 1');
  t.is(sent.length, 1);
  const [{ logpCur, logpNew }] = sent;
  t.true(logpCur.length > 0 && logpNew.length === logpCur.length, 'one log-prob per token it spoke, before and after');
  t.deepEqual(sent[0].record, second);
  await releaseTeam(tm);
});

test('an update here whose token was taken over as it was made is undone: its agent is as before, its position skipped', async (t) => {
  const cfg = slot0First();
  const tm = await team(cfg);
  const { link } = slot0Peer(tm.format.endOfTurn, false);
  const agent = tm.agents[1];
  const [before, beta, step] = [snapshotParams(tm)[1], agent.beta, agent.trainer.step];
  let trained = false;
  link.sendUpdate = async () => {
    trained =
      agent.trainer.step > step &&
      [...before].some(([n, p]) => agent.trainer.parameters.get(n)!.some((x, i) => x !== p[i]));
    return false;
  };
  const rec = await runStage({ ...tm, agents: [undefined, agent] }, cfg, 1, link);
  t.true(trained, 'it made its update');
  t.like(rec.agents[1], { slot: 1, skipped: true, accepted: false, n: 0 });
  t.deepEqual(snapshotParams(tm)[1], before, 'its tensors and');
  t.is(agent.trainer.step, step, 'its optimizer are as before the update');
  t.is(agent.beta, beta);
  t.is(rec.certificate.infoGain, rec.agents[0].gain, 'it has no part in the certificate');
  await releaseTeam(tm);
});

test("this peer's update that a later one was not made under is undone: the stage went on without it", async (t) => {
  const cfg = slot0First();
  const tm = await team(cfg);
  const { link, refused } = slot0Peer(tm.format.endOfTurn, false);
  // Slot 1's peer took the token over while slot 0's update here was on its way: it learned under no update.
  const receive = link.receiveUpdate;
  link.receiveUpdate = async (...args) => ({ ...(await receive(...args))!, mine: 'skipped' as const });
  const agent = tm.agents[0];
  const [before, beta, step] = [snapshotParams(tm)[0], agent.beta, agent.trainer.step];
  const rec = await runStage({ ...tm, agents: [agent, undefined] }, cfg, 1, link);
  t.deepEqual(refused, [], "slot 1's update holds up, as made under no update before it");
  t.like(rec.agents[0], { slot: 0, skipped: true, accepted: false, n: 0 });
  t.like(rec.agents[1], { slot: 1, accepted: true, zeta: 0 });
  t.deepEqual(snapshotParams(tm)[0], before, "slot 0's agent is as before its update");
  t.is(agent.trainer.step, step);
  t.is(agent.beta, beta);
  await releaseTeam(tm);
});

for (const [lie, claim, why] of [
  ['a KL quantile', { klQuantile: 0.01 }, /claims klQuantile 0.01, its log-probs give 0.1487/],
  ['a gain', { gain: 0.25 }, /claims gain 0.25, its log-probs give 0/],
  ['a sample count', { n: 20 }, /claims n 20, its log-probs give 4/],
  ['no update', { accepted: false, delta: 0 }, /its log-probs moved though its record keeps no update/],
  ['a wider trust region', { delta: 0.1, klQuantile: 0.1487 }, /claims klQuantile 0.1487, its log-probs give/],
] as const)
  test(`a remote update claiming ${lie} its log-probs contradict is refused: the stage goes on as if it was skipped`, async (t) => {
    const cfg = slot0First();
    const tm = await team(cfg);
    const { link, refused } = slot0Peer(tm.format.endOfTurn, false, claim);
    const rec = await runStage({ ...tm, agents: [undefined, tm.agents[1]] }, cfg, 1, link);
    const [first, second] = rec.agents;
    t.is(refused.length, 1);
    t.is(refused[0].position, 0);
    t.regex(refused[0].why, why);
    t.like(first, { slot: 0, skipped: true, accepted: false, n: 0, refused: refused[0].why });
    t.is(second.zeta, 0, 'the refused update reweights nothing');
    t.is(rec.certificate.infoGain, second.gain, 'and has no part in the certificate');
    await releaseTeam(tm);
  });

for (const [what, sent, why] of [
  ['a log-prob too many', { cur: -1, extra: 1 }, /an update carries 13 log-probs where the agent spoke 12 tokens/],
  ['log-probs whose KL overflows', { cur: -3e38, extra: 0 }, /must be a finite number/],
] as const)
  test(`a remote update with ${what} is refused, and the stage goes on`, async (t) => {
    const cfg = slot0First();
    const tm = await team(cfg);
    const { link, refused } = slot0Peer(tm.format.endOfTurn, false, {}, sent);
    const rec = await runStage({ ...tm, agents: [undefined, tm.agents[1]] }, cfg, 1, link);
    t.is(refused.length, 1);
    t.regex(refused[0].why, why);
    t.like(rec.agents[0], { skipped: true, refused: refused[0].why });
    await releaseTeam(tm);
  });

test('a remote update outside its trust region is refused though its record owns up to it', async (t) => {
  const cfg = slot0First();
  cfg.algorithm.klCtrl.targetKl = 0.1;
  const tm = await team(cfg);
  const { link, refused } = slot0Peer(tm.format.endOfTurn, false, { delta: 0.1 });
  await runStage({ ...tm, agents: [undefined, tm.agents[1]] }, cfg, 1, link);
  t.is(refused.length, 1);
  t.regex(refused[0].why, /leaves the trust region: KL quantile 0.1487\d* > delta 0.1/);
  await releaseTeam(tm);
});

test('a slot whose peer fell silent is skipped: no update, no samples, and no part in the certificate', async (t) => {
  const cfg = slot0First();
  const tm = await team(cfg);
  const { link } = slot0Peer(tm.format.endOfTurn, true);
  const rec = await runStage({ ...tm, agents: [undefined, tm.agents[1]] }, cfg, 1, link);
  const [skipped, updated] = rec.agents;
  t.like(skipped, { slot: 0, name: 'a', skipped: true, accepted: false, n: 0 });
  t.is(updated.zeta, 0, 'nothing before it was updated, so nothing is reweighted');
  t.is(rec.certificate.infoGain, updated.gain);
  await releaseTeam(tm);
});
