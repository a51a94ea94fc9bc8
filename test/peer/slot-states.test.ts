// Slot states between real libp2p peers on loopback: the holder offers its slot's saved state, a member keeps a copy
// and announces it, a peer that joins later takes the state from that copy once the holder is gone; a non-member's
// state, a state ahead of the team and bytes that are no SlotState are dropped and counted, and a state whose
// manifest holds other bytes than announced is not copied.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { parseConfig } from '../../node/config/load.ts';
import { contentId } from '../../node/protocol/cid.ts';
import { PROTOCOL_VERSION, decodeSlotState, encodeSlotState } from '../../node/protocol/codec.ts';
import { writeSafetensors } from '../../node/gpu/safetensors.ts';
import { PeerHost } from '../../node/protocol/host.ts';
import { PeerChunks } from '../../node/peer/peer-chunks.ts';
import { SlotStates, stateLabel, statesTopic } from '../../node/peer/slot-states.ts';
import { runSeed } from '../../node/sat/team.ts';
import { tempDir } from '../temp-dir.ts';
import { until } from '../protocol/until.ts';

const demo = new URL('../../models/demo/', import.meta.url).pathname;
const TEAM = contentId(new TextEncoder().encode('a team')).toString();
const decoded = (bytes: Uint8Array) => {
  const d = decodeSlotState(bytes);
  if (!d.ok) throw new Error(d.reason);
  return d.message;
};

function config(dir: string) {
  return parseConfig(
    `
seed: 5
dataset: { train_path: ${demo}/train.jsonl, test_path: ${demo}/test.jsonl }
sat: { agents: [{ name: a, path: ${demo}/tiny-weak }, { name: b, path: ${demo}/tiny-weak }] }
logging: { save_dir: ${dir} }
`,
    'yaml',
    path.join(dir, 'c.yaml'),
  );
}

interface Member {
  host: PeerHost;
  chunks: PeerChunks;
  states: SlotStates;
  dir: string;
  said: string[];
}

async function member(slot: number, isMember: (p: PeerId) => boolean): Promise<Member> {
  const dir = tempDir('slot-states-');
  const host = await PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  const chunks = await PeerChunks.start(host, TEAM, dir);
  const said: string[] = [];
  const states = new SlotStates({
    host,
    team: TEAM,
    cfg: config(dir),
    slot,
    chunks,
    isMember,
    teamStage: () => 3,
    log: (l) => said.push(l),
    periodMs: 300,
  });
  states.start();
  return { host, chunks, states, dir, said };
}

/** A stage folder as a peer of slot 1 saves it (its trained state 3 MiB, so several chunks), and the stage log. */
function savedStage(dir: string, stage: number): Record<string, Buffer> {
  const cfg = config(dir);
  const folder = path.join(dir, 'checkpoints', `stage-000${stage}`);
  fs.mkdirSync(folder, { recursive: true });
  const trained = path.join(folder, 'b.safetensors');
  const data = Float32Array.from({ length: 768 * 1024 }, () => Math.random());
  writeSafetensors(trained, { w: { dtype: 'float32', shape: [768, 1024], data } });
  const files = {
    'state.json': Buffer.from(JSON.stringify({ stage, team: runSeed(cfg), betas: [null, 0.25], slots: [{}, {}] })),
    'b.safetensors': fs.readFileSync(trained),
    'record.json': Buffer.from('{}'),
  };
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(folder, name), bytes);
  fs.writeFileSync(path.join(dir, 'checkpoints', 'latest.json'), JSON.stringify({ stage, dir: `stage-000${stage}` }));
  const log = Buffer.from(`{"stage":${stage}}\n`);
  fs.writeFileSync(path.join(dir, 'stage_log.jsonl'), log);
  return { ...files, 'stage_log.jsonl': log };
}

test("a member copies a slot's state; a later peer takes it from that copy once the holder is gone", async (t) => {
  const ids: PeerId[] = [];
  const isMember = (p: PeerId) => ids.some((id) => id.equals(p));
  const [holder, keeper, later] = await Promise.all([member(1, isMember), member(0, isMember), member(1, isMember)]);
  ids.push(holder.host.peerId, keeper.host.peerId, later.host.peerId);
  const stranger = await PeerHost.start({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  const all = [holder, keeper, later];
  t.teardown(async () => {
    for (const m of all) {
      m.states.stop();
      await m.chunks.stop();
      await m.host.stop();
    }
    await stranger.stop();
  });
  for (const m of [keeper, later]) await m.host.dial(holder.host.addresses[0]);
  await later.host.dial(keeper.host.addresses[0]);
  await stranger.dial(keeper.host.addresses[0]);
  const topic = statesTopic(TEAM);
  await until('subscriptions', () => keeper.host.subscribers(topic).length === 2);

  const files = savedStage(holder.dir, 2);
  await holder.states.offer();
  const offered = holder.chunks.store.pins().get(stateLabel(1))!;
  await until('the copy', () => keeper.chunks.store.pins().get(stateLabel(1))?.equals(offered) === true);
  await until('the copy announced', () => later.states.newest(1)[0]?.peers.length === 2);
  t.deepEqual(
    later.states.newest(1)[0].peers.map(String).sort(),
    [holder.host.peerId, keeper.host.peerId].map(String).sort(),
  );

  // A stranger's state is dropped and counted; bytes that are no SlotState are rejected by the host.
  const lie = encodeSlotState({
    version: PROTOCOL_VERSION,
    team: TEAM,
    slot: 1,
    stage: 9,
    manifest: contentId(Uint8Array.of(1)).bytes,
    bytes: 100,
  });
  await stranger.publish(topic, lie);
  await stranger.publish(topic, Uint8Array.of(0x08, 0x01, 0x17));
  await until('the stranger dropped', () => keeper.states.counters.dropped.get('non-member') === 1);
  await until('the garbage rejected', () => (keeper.host.counters.get(topic)?.rejected.get('malformed') ?? 0) === 1);
  t.is(keeper.states.newest(1)[0].stage, 2, 'what the stranger said is not taken');

  // A member's state of a stage the team is not in yet is dropped; one whose manifest holds other bytes than it
  // says is not copied, and said so once.
  await holder.host.publish(topic, encodeSlotState({ ...decoded(lie), manifest: offered.bytes }));
  await until('the state ahead dropped', () => keeper.states.counters.dropped.get('ahead') === 1);
  const real = later.states.newest(1)[0];
  const other = await holder.chunks.offer({ 'b.safetensors': path.join(holder.dir, 'stage_log.jsonl') }, 'other');
  await holder.host.publish(topic, encodeSlotState({ ...decoded(lie), stage: 3, manifest: other.cid.bytes, bytes: 7 }));
  await until('the size lie refused', () =>
    keeper.said.some((l) => /stage 3 yet: .* not the 7 it was announced/.test(l)),
  );
  t.true(keeper.chunks.store.pins().get(stateLabel(1))?.equals(real.cid), 'the copy kept is still the real one');

  // The holder goes; the later peer fetches the state from the copy alone.
  holder.states.stop();
  await holder.host.stop();
  all.shift();
  const state = later.states.newest(1).find((v) => v.cid.equals(offered))!;
  // A look at the manifest that refuses it (a state of another model, say) ends the fetch before any chunk comes.
  const blocks = later.chunks.store.size;
  const refused = await t.throwsAsync(
    later.chunks.fetch(state.cid, state.peers, {
      label: 'look',
      check: () => {
        throw new Error('not this one');
      },
    }),
  );
  t.is(refused?.message, 'not this one');
  t.is(later.chunks.store.size, blocks + 1, 'only the manifest came');
  const manifest = await later.chunks.fetch(state.cid, state.peers, { label: stateLabel(1) });
  t.deepEqual(
    JSON.parse(new TextDecoder().decode(manifest.meta)),
    { tensors: { w: [768, 1024] } },
    'the manifest lists the trained tensors',
  );
  const got = await later.chunks.materialize(manifest, path.join(later.dir, 'fetched'), Object.keys(files));
  t.deepEqual([...got.keys()].sort(), Object.keys(files).sort());
  for (const [name, bytes] of Object.entries(files)) t.deepEqual(fs.readFileSync(got.get(name)!), bytes, name);
});
