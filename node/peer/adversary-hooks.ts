// Where the sim's adversaries (sim/adversaries.ts) change what their peer trains with and sends, so that
// the sim can show every honest peer catching them. An honest peer has no hooks: what it makes goes out
// as made.
import type { CID } from 'multiformats/cid';
import type { ParamSource } from '../agent/model/weights.ts';
import type { MakeRows } from '../tasks/chain.ts';
import type { SatConfig } from '../config/load.ts';
import type { Heartbeat, LogprobUpdate, SlotClaim, TrajectoryShard } from '../protocol/codec.ts';

export interface AdversaryHooks {
  /** The team's config as this peer trains with it. */
  config?(cfg: SatConfig): SatConfig;
  /** This peer's update as it goes out; a promise that never settles holds the token without an update. */
  update?(u: LogprobUpdate): Promise<LogprobUpdate>;
  /** This peer's slot claim as it goes out. */
  claim?(c: SlotClaim): SlotClaim;
  /** This peer's heartbeats as they go out. */
  heartbeat?(beat: Heartbeat): Heartbeat;
  /** What this peer serves for a chunk or manifest it holds (undefined: MISSING). */
  chunk?(cid: CID, block: Uint8Array): Uint8Array | undefined;
  /** The new policy tensors this peer offers its slot's replicas with its update. */
  params?(src: ParamSource): ParamSource;
  /** How this peer makes its chunks of its slot's shared turns (docs/design §4.17). */
  turnRows?(make: MakeRows): MakeRows;
  /** The shard parts of a turn this peer took, as they go out; parts added go out only, this peer's rollout goes on. */
  shards?(parts: TrajectoryShard[]): TrajectoryShard[];
}

let hooks: AdversaryHooks = {};

/** Makes this process's peer an adversary (the sim's adversary entry calls this once, before the peer starts). */
export function setAdversaryHooks(h: AdversaryHooks): void {
  hooks = h;
}

/** The hooks in place: none, for an honest peer. */
export const adversaryHooks = (): AdversaryHooks => hooks;
