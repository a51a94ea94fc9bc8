// Advantages (docs/design §1.5), per agent over the trajectories it spoke in, and the block order
// sigma they predict (docs/design §1.6).
import type { Agent } from '../agent/agent.ts';
import { gaeSequenceAdvantages, grpoAdvantages } from '../agent/learner/advantages.ts';
import type { ConfigValues } from '../config/load.ts';
import { meanOver } from '../util/arrays.ts';
import { orderAgents } from './scheduler.ts';
import type { StageRun } from './stage-run.ts';
import { type StageRollout, ownPositions, ownTokens, rowsOf, spokeIn } from './stage-rollout.ts';

/** An agent's advantages: one per trajectory it spoke in (rowsOf's order); in GAE mode its tokens' returns too. */
export interface AgentAdvantages {
  sequence: number[];
  returns?: Float64Array[];
}

/** By slot; undefined where GAE needs a value head that runs on another peer. */
export type StageAdvantages = (AgentAdvantages | undefined)[];

/**
 * GRPO: each sample's reward against its group's baseline. GAE: the agent's value head over its own tokens, the
 * reward at its last one.
 */
export function stageAdvantages(
  rollout: StageRollout,
  agents: readonly (Agent | undefined)[],
  cfg: ConfigValues,
): StageAdvantages {
  const { sat } = cfg;
  if (sat.advMode === 'gae')
    return Array.from(agents, (agent, slot) => (agent ? gaeAdvantages(rollout, slot, cfg) : undefined));
  const grpo = Array.from(
    grpoAdvantages(
      rollout.map((t) => t.reward),
      rollout.map((t) => t.group),
      { baseline: sat.groupBaseline, groupNorm: sat.groupNorm, aClip: sat.advantageClip },
    ),
  );
  return Array.from(agents, (_, slot) => ({ sequence: grpo.filter((_, r) => spokeIn(rollout[r], slot)) }));
}

function gaeAdvantages(rollout: StageRollout, slot: number, cfg: ConfigValues): AgentAdvantages {
  const rows = rowsOf(rollout, slot);
  const tokenRewards = rows.map((t) => {
    const x = new Float64Array(ownPositions(t, slot).length);
    x[x.length - 1] = t.reward;
    return x;
  });
  const gae = gaeSequenceAdvantages(
    tokenRewards,
    rows.map((t) => ownTokens(t, slot, 'values')),
    rows.map((t) => t.group),
    { gamma: cfg.algorithm.gamma, lam: cfg.algorithm.lam, aClip: cfg.sat.advantageClip },
  );
  return { sequence: Array.from(gae.sequenceAdvantages), returns: gae.returns };
}

/** `slot`'s advantages; in GAE mode they need its value head, so only its own peer has them. */
export function advantagesOf(advantages: StageAdvantages, slot: number): AgentAdvantages {
  const a = advantages[slot];
  if (!a) throw new Error(`runStage: GAE advantages of slot ${slot} need its value head, on its own peer`);
  return a;
}

/** The block order sigma; greedy_info_gain predicts each agent's gain by mean |A| over its tokens. */
export function blockOrder(run: StageRun, rollout: StageRollout, advantages: StageAdvantages): number[] {
  const { mode } = run.cfg.sat.scheduler;
  const { agents } = run.team;
  const predicted = () =>
    agents.map((_, slot) => {
      const { sequence } = advantagesOf(advantages, slot);
      return meanOver(
        rowsOf(rollout, slot),
        (t, i) => ownPositions(t, slot).length * Math.abs(sequence[i]),
        (t) => ownPositions(t, slot).length,
      );
    });
  return orderAgents(mode, agents.length, run.seed, mode === 'greedy_info_gain' ? predicted() : []);
}
