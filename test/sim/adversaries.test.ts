// `sat-peer sim --adversary`: one slot's peer cheats the team in a sim of real processes, and the honest
// peers catch it — a record its log-probs contradict, an update outside its trust region and log-probs moved
// off are refused and their maker excluded; with a replica a slot, weights that do not give the update's
// log-probs are refused on the replica's word, and the replica carries the slot on; a forged turn of another
// slot is dropped and its sender excluded while the stage comes out as single-process train's, and a holder
// that keeps the token alive past the longest hold is taken over.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { sat } from '../cli/run-cli.ts';
import { smallTeam } from './small-team.ts';
import { differences } from './stage-rows.ts';

interface Summary {
  excluded: { name: string; peer: string; from: number; why: string }[];
  stages: {
    stage: number;
    agents: { slot: number; accepted: boolean; skipped?: true; refused?: string }[];
    trainers?: Record<string, string>;
  }[];
}

/**
 * A sim of the small team (`slots` slots) with `adversary`, each peer on one thread: one stage, or two with `replicas` a
 * slot (a slot's replica carries it on once its trainer is excluded); its summary, its folder.
 */
function simWith(adversary: string, slots = 2, replicas = 0): { summary: Summary; dir: string; out: string } {
  const { dir, config } = smallTeam(replicas ? 2 : 1);
  const out = path.join(dir, 'sim');
  const sim = sat(
    'sim',
    '--config',
    config,
    '--out',
    out,
    '--threads',
    '1',
    '--deadline',
    '2',
    '--no-http',
    '--json',
    '--slots',
    String(slots),
    '--adversary',
    adversary,
    '--replicas',
    String(replicas),
  );
  if (sim.code !== 0) throw new Error(`sim --adversary ${adversary} failed: ${sim.stderr.trim().split('\n').at(-1)}`);
  return { summary: JSON.parse(sim.stdout.trim().split('\n').at(-1)!) as Summary, dir, out };
}

// In the three-slot team stage 1's order is 1 > 2 > 0: slot 1's update is checked by the peer of the next position
// and, named in its update as refused, by the peer of the last.
for (const [kind, slots, slot, why] of [
  ['kl-lie', 3, 1, /^its record claims klQuantile \S+, its log-probs give \S+$/],
  ['kl-violation', 2, 0, /^its update leaves the trust region: KL quantile \S+ > delta 0.05$/],
  ['logp-offset', 2, 0, /^its record claims \w+ \S+, its log-probs give \S+$/],
] as const)
  test(`${kind}: every honest peer refuses the update, the stage goes on without it, its maker is excluded`, (t) => {
    const { summary } = simWith(`${kind}@${slot}`, slots);
    const [stage] = summary.stages;
    const cheat = stage.agents.find((a) => a.slot === slot)!;
    t.true(cheat.skipped && !cheat.accepted);
    t.regex(cheat.refused ?? '', why);
    t.true(
      stage.agents.every((a) => a.slot === slot || !a.skipped),
      'the honest slots made their updates',
    );
    t.is(summary.excluded.length, 1);
    t.like(summary.excluded[0], { name: `peer ${slot} (adversary: ${kind})`, from: 2 });
    t.is(summary.excluded[0].why, `its update for slot ${slot} in stage 1 was refused: ${cheat.refused}`);
  });

test("forged-turn: the other slot's turn it sends first is dropped and its sender excluded; the stage is train's", (t) => {
  const { summary, dir, out } = simWith('forged-turn@0');
  t.is(summary.excluded.length, 1);
  t.like(summary.excluded[0], { name: 'peer 0 (adversary: forged-turn)', from: 2 });
  t.regex(summary.excluded[0].why, /sent turns of slot 1 in stage 1's rollout train\/0, a slot it does not train/);
  const train = sat('train', '--config', path.join(dir, 'team.yaml'), '--threads', '1');
  t.is(train.code, 0, train.stderr);
  const row = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8').trim().split('\n')[0]);
  const honest = row(path.join(out, 'peer-1/stage_log.jsonl'));
  t.deepEqual(differences(row(path.join(dir, 'train-run/stage_log.jsonl')), honest), []);
});

test('kl-lie with a replica a slot: the trainer is excluded, its replica carries the slot on from the state before', (t) => {
  const { summary, out } = simWith('kl-lie@0', 2, 1);
  const [one, two] = summary.stages;
  t.true(one.agents.find((a) => a.slot === 0)!.skipped);
  t.like(summary.excluded, [{ name: 'peer 0 (adversary: kl-lie)', from: 2 }]);
  t.true(
    two.agents.every((a) => !a.skipped),
    'in stage 2 the replica trains slot 0, and its update holds up',
  );
  // The replica did not take the trainer's state with the refused update in it: it kept the one from before.
  const tensors = (d: string) => fs.readFileSync(path.join(out, d, 'checkpoints/stage-0001/first.safetensors'));
  t.false(tensors('peer-0.1').equals(tensors('peer-0')));
});

// With a replica a slot, an update whose weights do not give its log-probs, or cannot be fetched, is refused on the
// replica's word, its maker excluded, and the replica carries the slot on.
for (const [kind, why] of [
  ['garbage-weights', /^its logp_new is not what the weights it names give: token \d+ re-scores/],
  ['withhold-chunks', /^it could not be checked: no provider could supply manifest \S+ \(1 asked/],
  ['bad-chunks', /^it could not be checked: no provider could supply manifest \S+ \(1 asked/],
] as const)
  test(`${kind}: its replica finds its update does not hold up, and on that word every peer refuses it`, (t) => {
    const { summary } = simWith(`${kind}@0`, 2, 1);
    const [one, two] = summary.stages;
    const cheat = one.agents.find((a) => a.slot === 0)!;
    t.true(cheat.skipped);
    const said = /^1 of 1 of its slot's replicas found it does not hold up \(12D3KooW\S+: (.*)\)$/.exec(
      cheat.refused ?? '',
    );
    t.regex(said?.[1] ?? `(not said by a replica) ${cheat.refused}`, why);
    t.like(summary.excluded, [{ name: `peer 0 (adversary: ${kind})`, from: 2 }]);
    t.true(
      two.agents.every((a) => !a.skipped),
      'in stage 2 the replica trains slot 0, and its update holds up',
    );
  });

// A slot's trainer and its replica make its turns together and check each other's chunks (docs/design §4.17).
for (const [at, cheat, checker] of [
  ['0', 'peer 0', 'replica 0.1'],
  ['0.1', 'replica 0.1', 'peer 0'],
] as const)
  test(`off-sampler-tokens@${at}: ${checker} finds chunks off the seeded sampler; their maker is excluded; the stage is train's`, (t) => {
    const { summary, dir, out } = simWith(`off-sampler-tokens@${at}`, 2, 1);
    t.like(summary.excluded, [{ name: `${cheat} (adversary: off-sampler-tokens)`, from: 2 }]);
    t.regex(
      summary.excluded[0].why,
      new RegExp(
        "^it made chunk \\d+ of slot 0's turn in stage 1's train/0, which does not hold up as another peer of the slot " +
          "checked it \\(12D3KooW\\S+: row \\d+'s tokens are not the seeded sampler's: token \\d+ is \\d+, the sampler's \\d+\\)$",
      ),
    );
    // The chunks it made were made again by the other peer of the slot: the stage is single-process train's (and the
    // next too: the replica takes the slot's state of the stage from its excluded trainer before it goes).
    const train = sat('train', '--config', path.join(dir, 'team.yaml'), '--threads', '1');
    t.is(train.code, 0, train.stderr);
    const rows = (file: string) =>
      fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const trained = rows(path.join(dir, 'train-run/stage_log.jsonl'));
    const honest = rows(path.join(out, 'peer-1/stage_log.jsonl'));
    t.is(honest.length, 2);
    honest.forEach((row, i) => t.deepEqual(differences(trained[i], row), [], `stage ${i + 1}`));
  });

test('backdated-claim@0.1: a replica that joins the running team with a claim dated 1970 stays behind the trainer', (t) => {
  const { summary } = simWith('backdated-claim@0.1', 2, 1);
  t.is(summary.stages.length, 2);
  for (const s of summary.stages)
    t.deepEqual(s.trainers, { 0: 'peer 0', 1: 'peer 1' }, `stage ${s.stage}: the trainers train their slots`);
  t.deepEqual(summary.excluded, []);
});

test('endless-keepalive: its position is taken over once the longest hold has passed, and counted skipped', (t) => {
  const { summary } = simWith('endless-keepalive@0');
  const cheat = summary.stages[0].agents.find((a) => a.slot === 0)!;
  t.true(cheat.skipped && !cheat.refused);
  t.true(summary.stages[0].agents.some((a) => a.slot === 1 && !a.skipped));
  t.deepEqual(summary.excluded, [], 'a slow holder is not excluded: its update only comes too late');
});

test('--adversary names a kind and a slot of the team, once a peer; --peers gives each slot its trainer and spreads the rest', (t) => {
  const { config } = smallTeam(1);
  for (const [flag, error] of [
    [
      'kl-lies@0',
      new RegExp(
        "no kind 'kl-lies' \\(the kinds are kl-lie, kl-violation, forged-turn, fake-stage, endless-keepalive, " +
          'logp-offset, garbage-weights, withhold-chunks, bad-chunks, backdated-claim, off-sampler-tokens\\)',
      ),
    ],
    ['kl-lie@2', /the team has slots 0..1, not 2/],
    ['kl-lie', /must look like <kind>@<slot> or <kind>@<slot>.<replica>/],
    ['kl-lie@0.1', /names replica 1, and the sim starts none of slot 0 \(--replicas R, or --peers N\)/],
  ] as const) {
    const r = sat('sim', '--config', config, '--adversary', flag);
    t.is(r.code, 2, flag);
    t.regex(r.stderr, error);
  }
  const twice = sat('sim', '--config', config, '--adversary', 'kl-lie@0', '--adversary', 'forged-turn@0');
  t.regex(twice.stderr, /0 is named twice; one adversary a peer/);
  // Three peers on the two-slot team: slot 0 has a replica, slot 1 none.
  t.is(
    sat('sim', '--config', config, '--peers', '3', '--adversary', 'kl-lie@1.1').stderr.match(/starts none of slot 1/)
      ?.length,
    1,
  );
  t.regex(
    sat('sim', '--config', config, '--peers', '1').stderr,
    /--peers 1: the team has 2 slots and each needs its trainer/,
  );
  t.regex(
    sat('sim', '--config', config, '--peers', '5', '--replicas', '1').stderr,
    /--peers 5 and --replicas 1 disagree/,
  );
});
