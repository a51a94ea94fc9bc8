// Plug-and-play on a network team (docs/design §1.12, §4.12): a newcomer takes a slot over at a stage; the
// incumbent's peer hands its agent's tensors over and leaves, and the newcomer enters through Stage-0.
import path from 'node:path';
import { resolveModel } from '../agent/hub/hub.ts';
import { freezeParams, loadParams, saveParams } from '../agent/model/frozen-params.ts';
import { makeIncumbent } from '../sat/team.ts';
import { cidFromBytes } from '../protocol/cid.ts';
import { LinkDivergedError } from './peer-link.ts';
import { sleep } from '../util/until.ts';
import { type JoinedPeer, sessionOf } from './join.ts';
import { downloadProgress, fetchProgress } from './fetch-progress.ts';

/** The one entry of a hand-over's manifest. */
const TENSORS = 'tensors.safetensors';

/** How long an incumbent serves its tensors to the newcomer taking its slot over. */
const HANDOVER_MS = 300_000;
/** How often it announces them again. */
const ANNOUNCE_MS = 2_000;

/**
 * The newcomer takes its slot over at `stage`: the incumbent's tensors come from its peer; the agent
 * decodes through the Stage-0 projection onto the ball around them.
 */
export async function enterSlot(p: JoinedPeer, stage: number): Promise<void> {
  const { cfg, slot, init } = p;
  p.roster.setStage(stage);
  init.log(`waiting for slot ${slot}'s incumbent to hand its tensors over at stage ${stage}`);
  const { bytes, from } = await p.link.incumbentParams(stage);
  const cid = cidFromBytes(bytes);
  if (!cid) throw new LinkDivergedError(`slot ${slot}'s incumbent handed over no chunk manifest CID`);
  const file = path.join(init.dataDir, `incumbent-${stage}.safetensors`);
  const manifest = await p.chunks.fetch(cid, [from], {
    label: `incumbent/${stage}`,
    onProgress: fetchProgress(init.log, "the incumbent's tensors"),
  });
  await p.chunks.store.materialize(manifest, file, { entry: TENSORS });
  // The incumbent's tensors apply to the slot's configured model: a folder here, or a hub model (cached, else fetched).
  const spec = cfg.sat.agents[slot].path;
  const base = await resolveModel(spec, { progress: downloadProgress(init.log, `the incumbent's model ${spec}`) });
  const lora = cfg.training.lora ?? undefined;
  const incumbent = makeIncumbent(cfg, base.dir, loadParams(file, lora), sessionOf(init));
  p.agent.stage0 = { incumbent, delta: cfg.sat.stage0Delta };
  init.log(`slot ${slot} taken over: entering through Stage-0 (KL ball ${cfg.sat.stage0Delta}) from stage ${stage}`);
}

/**
 * A newcomer holds this peer's slot from `stage` on: its agent's tensors are handed over (announced
 * again until the newcomer is past the stage, or gone), and this peer's part is done.
 */
export async function handOver(p: JoinedPeer, stage: number, signal: AbortSignal): Promise<void> {
  const { roster, slot } = p;
  const newcomer = roster.holder(slot, stage)!;
  const file = path.join(p.init.dataDir, `handover-${stage}.safetensors`);
  saveParams(file, freezeParams(p.agent.trainer.paramSource()));
  // The tensors go as chunks, whatever their size; the announcement names their manifest.
  const { cid } = await p.chunks.offer({ [TENSORS]: file }, `handover/${stage}`);
  p.init.log(`slot ${slot} is taken over by ${newcomer} from stage ${stage}: handing the agent's tensors over`);
  const entered = () => (roster.stageOf(slot, newcomer) ?? 0) > stage || !roster.holder(slot, stage)?.equals(newcomer);
  const end = Date.now() + HANDOVER_MS;
  while (Date.now() < end && !signal.aborted && !entered()) {
    await p.link.handOver(stage, cid.bytes);
    await sleep(ANNOUNCE_MS, signal);
  }
}
