// `sat-peer sim` end to end: a bootstrap and one real peer process per slot on 127.0.0.1 run a small
// team's stages, and every number they log equals single-process `sat-peer train` on the same config
// (same seed, same prompts, same samples, same updates, same certificate, same test accuracy), even
// over slow, lossy links.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO, sat, satWithEnv } from '../cli/run-cli.ts';
import { cacheSnapshot } from '../agent/hub/hf-cache.ts';
import { smallTeam } from './small-team.ts';
import { differences } from './stage-rows.ts';

/** A stage row without what differs between processes: its times. */
const bare = ({ seconds: _, time: __, ...row }: Record<string, unknown>) => JSON.stringify(row);

test(
  'sim with a replica a slot, which makes a share of its turns, over links of 50 ms with 1% loss: every peer logs ' +
    "the numbers single-process train logs on the same config, within 1e-6, and each replica ends with its trainer's state",
  async (t) => {
    t.timeout(400_000);
    const { dir, config } = smallTeam();
    const out = path.join(dir, 'sim');
    const sim = sat(
      'sim',
      '--config',
      config,
      '--out',
      out,
      '--threads',
      '1',
      '--latency',
      '50ms',
      '--loss',
      '1%',
      '--replicas',
      '1',
      '--json',
    );
    t.is(sim.code, 0, sim.stderr);
    const lines = sim.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const summary = lines.at(-1);
    t.is(summary.peers, 4);
    t.is(summary.slots, 2);
    t.is(summary.stages.length, 2);
    t.true(summary.accuracy_start >= 0 && summary.accuracy_start <= 1);
    t.true(
      summary.stages.every((s: { rss_mb: number }) => s.rss_mb > 100),
      "each stage reports its peers' peak resident memory",
    );
    t.true(
      summary.memory_per_peer_gib > 0.5,
      `each peer plans with its share of the machine's memory (${summary.memory_per_peer_gib} GiB)`,
    );
    t.true(
      summary.relayed_bytes > 100_000,
      `the shaping relays carried the team's traffic (${summary.relayed_bytes} bytes)`,
    );
    type Stage = { time: { verify?: number }; bytes: Record<string, number>; made?: Record<string, number> };
    for (const s of summary.stages as Stage[]) {
      t.true(s.time.verify! > 0, "the replicas' checks are timed");
      // Each slot's trainer and replica share its turns: every peer made chunks of them.
      t.deepEqual(
        Object.keys(s.made ?? {}).sort(),
        ['peer 0', 'peer 1', 'replica 0.1', 'replica 1.1'],
        JSON.stringify(s.made),
      );
      // The replicas fetched the updates' weights, and the slot states after the first stage: chunks.
      t.true(s.bytes.gossip > 0 && s.bytes.blocks > 0 && s.bytes.chunks > 0, JSON.stringify(s.bytes));
    }

    const train = sat('train', '--config', config, '--threads', '1');
    t.is(train.code, 0, train.stderr);
    const read = (file: string) =>
      fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const trained = read(path.join(dir, 'train-run/stage_log.jsonl'));
    const dirs = ['peer-0', 'peer-1', 'peer-0.1', 'peer-1.1'];
    const peers = dirs.map((d) => read(path.join(out, d, 'stage_log.jsonl')));
    t.is(trained.length, 2);
    for (const log of peers) {
      t.is(log.length, 2);
      log.forEach((row, i) => {
        t.true(
          row.agents.length === 2 &&
            typeof row.certificate.lowerBound === 'number' &&
            typeof row.test_accuracy === 'number',
        );
        // The same keys as train's row (the comparison below reads only keys both have), held-out metrics included.
        t.deepEqual(Object.keys(row).sort(), Object.keys(trained[i]).sort());
        t.deepEqual(
          row.agents.map((a: object) => Object.keys(a).sort()),
          trained[i].agents.map((a: object) => Object.keys(a).sort()),
        );
        t.true(
          row.k === 2 &&
            row.test_avg_at_k >= 0 &&
            row.test_pass_at_k >= row.test_avg_at_k &&
            row.agents.every((a: { test_avg_at_k: number }) => a.test_avg_at_k >= 0),
        );
        t.deepEqual(differences(trained[i], row), [], `stage ${i + 1}`);
      });
    }
    // Every peer writes the same rows, byte for byte but the time.
    for (const log of peers.slice(1)) t.deepEqual(log.map(bare), peers[0].map(bare));
    // The table's rows are the logged ones.
    t.deepEqual(
      summary.stages.map((s: Record<string, unknown>) => s.reward),
      peers[0].map((r) => r.reward),
    );
    // Each peer saved its own slot at every stage; each replica took its trainer's state, byte for byte.
    for (const [slot, name] of ['first', 'second'].entries()) {
      const saved = (d: string) => fs.readFileSync(path.join(out, d, `checkpoints/stage-0002/${name}.safetensors`));
      t.true(fs.existsSync(path.join(out, `peer-${slot}/checkpoints/stage-0002/state.json`)));
      t.true(saved(`peer-${slot}`).equals(saved(`peer-${slot}.1`)), `slot ${slot}'s replica holds its trainer's state`);
    }
  },
);

test(
  'sim --slots 3 --kill: the token holder killed mid-stage is skipped, the team goes on, and ' +
    'the peer restarts from its checkpoint, logs that stage as the others do, and rejoins ' +
    '(though one peer says in its heartbeats that the team is a hundred stages ahead)',
  async (t) => {
    t.timeout(400_000);
    const { dir, config } = smallTeam(3);
    const out = path.join(dir, 'sim');
    const sim = sat(
      'sim',
      '--config',
      config,
      '--slots',
      '3',
      '--out',
      out,
      '--threads',
      '1',
      '--kill',
      '0@2',
      '--deadline',
      '4',
      '--upgrade',
      'none',
      '--adversary',
      'fake-stage@2',
      '--json',
    );
    t.is(sim.code, 0, sim.stderr);
    const summary = JSON.parse(sim.stdout.trim().split('\n').at(-1)!);
    t.is(summary.slots, 3);
    t.deepEqual(
      summary.stages.map((s: { stage: number }) => s.stage),
      [1, 2, 3],
    );
    t.deepEqual(summary.stages[0].agents.map((a: { name: string }) => a.name).sort(), ['first', 'second', 'second-3']);
    const killed = summary.stages[1].agents.find((a: { slot: number }) => a.slot === 0);
    t.true(killed.skipped, 'slot 0 skipped stage 2');
    t.false(killed.accepted);
    t.true(
      summary.stages[1].agents
        .filter((a: { slot: number }) => a.slot !== 0)
        .every((a: { accepted: boolean }) => a.accepted),
      'the other agents updated',
    );

    const read = (slot: number) =>
      fs
        .readFileSync(path.join(out, `peer-${slot}/stage_log.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const [restarted, other, third] = [read(0), read(1), read(2)];
    t.deepEqual(
      other.map((r) => r.stage),
      [1, 2, 3],
    );
    t.deepEqual(third.map(bare), other.map(bare));
    t.deepEqual(
      restarted.map(bare),
      other.map(bare),
      'restarted, the killed peer logs the stage that went on without it as the others do, and the rest',
    );
    t.true(fs.existsSync(path.join(out, 'peer-0/checkpoints/stage-0003/state.json')));
  },
);

test(
  "sim --kill --wipe: a peer that lost its disk takes its slot's state back from the copies the others keep, " +
    'follows the stage that went on without it, and trains on',
  async (t) => {
    t.timeout(400_000);
    const { dir, config } = smallTeam(3);
    const out = path.join(dir, 'sim');
    const sim = sat(
      'sim',
      '--config',
      config,
      '--out',
      out,
      '--threads',
      '1',
      '--kill',
      '1@2:eval',
      '--wipe',
      '--upgrade',
      'none',
      '--json',
      '--verbose',
    );
    t.is(sim.code, 0, sim.stderr);
    t.regex(sim.stderr, /peer 1: killed \(SIGKILL\) .* starting it again on an empty data dir/);
    t.regex(
      sim.stderr,
      /peer 1: slot 1's state of stage 1 \([\d.]+ MB\) is newer than this peer's \(none\): fetching it from 1 peer\(s\)/,
    );
    t.regex(sim.stderr, /peer 1: slot 1's state of stage 1 taken from the team: resuming after it/);
    const summary = JSON.parse(sim.stdout.trim().split('\n').at(-1)!);
    t.deepEqual(
      summary.stages.map((s: { stage: number }) => s.stage),
      [1, 2, 3],
    );
    const agent = (stage: number) =>
      summary.stages[stage - 1].agents.find((a: { slot: number }) => a.slot === 1) as { skipped?: boolean };
    // Killed as it started stage 2's evaluation: the update it made in stage 2 went with its disk (a state is offered
    // once its stage is logged), and the shards it made too; it follows stage 2 from the update of the peer left.
    t.regex(sim.stderr, /peer 1: the team is past stage 2's rollout: following it/);
    t.falsy(agent(3).skipped, 'slot 1 trained in stage 3, from the state it took back');

    const read = (slot: number) =>
      fs
        .readFileSync(path.join(out, `peer-${slot}/stage_log.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    t.deepEqual(
      read(1).map(bare),
      read(0).map(bare),
      "the stage log came with the state: the new peer's has every row the others' have",
    );
    t.true(fs.existsSync(path.join(out, 'peer-1/checkpoints/stage-0003/state.json')));
    // Each peer pins its own slot's newest state and its copy of the other's.
    const pins = JSON.parse(fs.readFileSync(path.join(out, 'peer-0/chunks/pins.json'), 'utf8'));
    t.deepEqual(
      Object.keys(pins)
        .filter((l) => /^state\/\d$/.test(l))
        .sort(),
      ['state/0', 'state/1'],
    );
  },
);

test(
  'sim --kill at evaluation: a peer killed while evaluating restarts with its update, ' +
    'takes its turns in that evaluation again, and every peer still logs what train logs',
  async (t) => {
    t.timeout(400_000);
    const { dir, config } = smallTeam(3);
    const out = path.join(dir, 'sim');
    const sim = sat(
      'sim',
      '--config',
      config,
      '--out',
      out,
      '--threads',
      '1',
      '--kill',
      '1@2:eval',
      '--upgrade',
      'none',
      '--json',
      '--verbose',
    );
    t.is(sim.code, 0, sim.stderr);
    t.regex(sim.stderr, /killed \(SIGKILL\) as it started its evaluation in stage 2/);
    t.regex(sim.stderr, /stage 2 was saved but its evaluation was cut short: taking part in it again/);
    const summary = JSON.parse(sim.stdout.trim().split('\n').at(-1)!);
    t.deepEqual(
      summary.stages.map((s: { stage: number }) => s.stage),
      [1, 2, 3],
    );
    t.true(
      summary.stages[1].agents.every((a: { accepted: boolean }) => a.accepted),
      "the killed peer's update of stage 2 counts",
    );

    // Its update was not lost: stage 3 (rolled out and trained by the restarted agent) is train's stage 3.
    const train = sat('train', '--config', config, '--threads', '1');
    t.is(train.code, 0, train.stderr);
    const read = (file: string) =>
      fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const trained = read(path.join(dir, 'train-run/stage_log.jsonl'));
    for (const slot of [0, 1]) {
      const log = read(path.join(out, `peer-${slot}/stage_log.jsonl`));
      t.deepEqual(
        log.map((r) => r.stage),
        [1, 2, 3],
      );
      log.forEach((row, i) => t.deepEqual(differences(trained[i], row), [], `peer ${slot}, stage ${i + 1}`));
    }
  },
);

/** A fresh HF_HOME whose cache holds the demo's weak agent as the hub model `sat-test/tiny-weak`. */
function hubCache(): string {
  const home = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sat-hf-')), 'hf');
  const weak = path.join(DEMO, 'tiny-weak');
  cacheSnapshot(
    home,
    'sat-test/tiny-weak',
    Object.fromEntries(fs.readdirSync(weak).map((f) => [f, path.join(weak, f)])),
  );
  return home;
}

test(
  'sim --upgrade: a newcomer with the strong model takes over a slot named by a hub model ' +
    'mid-run through Stage-0; the incumbent hands over and leaves',
  async (t) => {
    t.timeout(400_000);
    const { dir, config } = smallTeam(3);
    // The slots name a hub model, as a public team's do: every peer, the newcomer too, finds it in the cache.
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replaceAll(`${DEMO}/tiny-weak`, 'sat-test/tiny-weak'));
    const out = path.join(dir, 'sim');
    const sim = satWithEnv(
      { HF_HOME: hubCache(), HF_HUB_OFFLINE: '1' },
      'sim',
      '--config',
      config,
      '--out',
      out,
      '--threads',
      '1',
      '--upgrade',
      `0=${DEMO}/tiny-strong@3`,
      '--json',
    );
    t.is(sim.code, 0, sim.stderr);
    const summary = JSON.parse(sim.stdout.trim().split('\n').at(-1)!);
    t.deepEqual(
      summary.stages.map((s: { stage: number }) => s.stage),
      [1, 2, 3],
    );
    t.is(summary.accuracy_before_upgrade, summary.stages[1].test_accuracy);
    t.is(summary.accuracy_after_upgrade, summary.stages[2].test_accuracy);
    const entering = summary.stages[2].agents.find((a: { slot: number }) => a.slot === 0);
    t.is(
      entering.stage0.deltaFrom,
      0.01,
      'the newcomer enters through the Stage-0 ball of sat.stage0_delta (its default)',
    );
    t.true(entering.stage0.delta >= 0.01);

    const read = (name: string) =>
      fs
        .readFileSync(path.join(out, name, 'stage_log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    t.deepEqual(
      read('peer-0').map((r) => r.stage),
      [1, 2],
      'the incumbent leaves once it handed over',
    );
    t.deepEqual(
      read('peer-0-upgrade').map((r) => r.stage),
      [3],
    );
    t.deepEqual(
      read('peer-1').map((r) => r.stage),
      [1, 2, 3],
      'the other agent trains on, not retrained for the swap',
    );
    t.true(
      fs
        .readFileSync(path.join(out, 'peer-0-upgrade', 'incumbent-3.safetensors'))
        .equals(fs.readFileSync(path.join(out, 'peer-0', 'handover-3.safetensors'))),
      "the incumbent's tensors came whole",
    );
    // Both hold the tensors as one chunk manifest, pinned: the newcomer keeps it to serve on.
    const pins = (name: string): Record<string, string> =>
      JSON.parse(fs.readFileSync(path.join(out, name, 'chunks', 'pins.json'), 'utf8'));
    t.is(pins('peer-0-upgrade')['incumbent/3'], pins('peer-0')['handover/3']);
    t.truthy(pins('peer-0')['handover/3']);
  },
);
