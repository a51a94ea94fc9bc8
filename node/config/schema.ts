// The SAT configuration schema: every key, its check and its default, in one table. Keys and defaults
// follow the SAT reference (github.com/Yydc/SAT-AAMAS): where its code reads a key with a default
// (`cfg.get("sat", {}).get("group_size", 4)`), that default; where only its configs name the key, the
// value in configs/sat_default.yaml. `team`, `seed`, `sat.max_step_growths`, `training.lora`,
// `certificate.holdout` and `logging.keep_checkpoints` are ours.
import { ConfigError } from './errors.ts';
import {
  REQUIRED,
  bool,
  filePath,
  int,
  list,
  modelRef,
  num,
  oneOf,
  optionalSection,
  section,
  str,
  strList,
  yamlKey,
  type Schema,
} from './fields.ts';
import type { ConfigValues } from './types.ts';

export const SCHEMA: Schema<ConfigValues> = {
  algorithm: section({
    gamma: num(0.99, '(0, 1)'),
    lam: num(0.95, '[0, 1]'),
    klPenalty: oneOf(['kl'], 'kl'),
    klCtrl: section({
      type: oneOf(['per_state_quantile'], 'per_state_quantile'),
      klCoef: num(0.001, '> 0'),
      targetKl: num(0.05, '> 0'),
      quantile: num(0.99, '(0, 1)'),
    }),
  }),
  actorRolloutRef: section({
    actor: section({
      useKlLoss: bool(true),
      klLossType: oneOf(['k1+'], 'k1+'),
      klLossCoef: num(0.001, '>= 0'),
      ppoEpochs: int(1, 1),
      ppoMiniBatchSize: int(0, 0), // verl's key, in trajectories; 0: the whole batch in one step (the reference's behaviour)
      clipRatio: num(0.2, '> 0'),
      lossAggMode: oneOf(['token-mean'], 'token-mean'),
    }),
    rollout: section({ n: int(4, 1) }),
    ref: section({}),
  }),
  data: section({
    trainBatchSize: int(512, 1),
    maxPromptLength: int(512, 1),
    maxResponseLength: int(128, 1), // the reference code's default; sat_default.yaml sets 32768
  }),
  generation: section({
    temperature: num(0.8, '>= 0'),
    topP: num(1.0, '(0, 1]'),
    enableThinking: bool(false), // ours: Qwen3's thinking switch in chat-formatted turns
  }),
  sat: section({
    epsilon: num(0.2, '> 0'),
    advantageClip: yamlKey('A_clip', num(5.0, '> 0')),
    groupSize: int(4, 1),
    epsilonIs: num(1e-5, '>= 0'),
    maxIsRatioClip: num(10.0, '> 0'),
    advMode: oneOf(['grpo', 'gae'], 'grpo'),
    groupBaseline: oneOf(['mean', 'max'], 'mean'),
    groupNorm: bool(true),
    scheduler: section({ mode: oneOf(['static', 'random', 'greedy_info_gain'], 'static') }),
    maxBacktracks: int(5, 0),
    maxStepGrowths: int(3, 0), // ours: how often the line search may grow the step past the trained one
    stage0Delta: num(0.01, '> 0'),
    agents: list({
      name: str((at) => `agent_${at.index + 1}`),
      path: modelRef(REQUIRED),
      upgrade: modelRef(null),
      role: str(null), // ours: solver, critic, finalizer or a label of one's own with a system_prompt
      systemPrompt: str(null), // ours: the agent's system message in chat-formatted turns
    }),
  }),
  training: section({
    learningRate: num(1e-5, '> 0'),
    weightDecay: num(0.01, '>= 0'),
    warmupSteps: int(100, 0),
    vfCoef: num(0.1, '>= 0'),
    clipVf: bool(true),
    numStages: int(10, 1),
    lora: optionalSection({
      rank: int(8, 1),
      alpha: num(16, '> 0'),
      targets: strList(['q_proj', 'k_proj', 'v_proj', 'o_proj']),
    }),
  }),
  evaluation: section({
    numSamplesPerAgent: int(4, 1), // the reference code's default; its configs set 64 (sat_demo: 2)
    ensembleStrategy: oneOf(['majority_vote'], 'majority_vote'),
  }),
  certificate: section({
    // As scripts/train.py reads it: A_max falls back to sat.A_clip (read before this section).
    advantageMax: yamlKey(
      'A_max',
      num((at) => (at.root as unknown as ConfigValues).sat.advantageClip, '> 0'),
    ),
    deltaConf: num(0.05, '(0, 1)'),
    holdout: num(0.125, '[0, 0.5]'), // ours: the share of each stage's prompts kept from the updates to measure them on
  }),
  logging: section({
    saveDir: filePath('outputs/sat'),
    checkpointEveryStage: int(1, 1),
    everyNSteps: int(10, 1),
    keepCheckpoints: int(3, 0), // ours: the saved stages kept, the latest ones (0 keeps every one)
  }),
  dataset: section({
    trainPath: filePath(null),
    testPath: filePath(null),
    type: str(null),
  }),
  team: section({
    workflow: oneOf(['chain', 'ensemble'], 'chain'),
    turns: oneOf(['auto', 'chat', 'plain'], 'auto'),
  }),
  seed: int(42, 0),
};

/** The rules that tie keys together, checked once every key is read. */
export function crossCheck(c: ConfigValues, file: string): void {
  if (c.certificate.advantageMax < c.sat.advantageClip) {
    const message =
      `certificate.A_max must be >= sat.A_clip (${c.sat.advantageClip}) for the bound to hold, ` +
      `got ${c.certificate.advantageMax}`;
    throw new ConfigError(message, file, 'certificate.A_max');
  }
  const names = new Set<string>();
  c.sat.agents.forEach(({ name }, i) => {
    const key = `sat.agents[${i}].name`;
    if (names.has(name))
      throw new ConfigError(`${key} must be unique in the team, got ${JSON.stringify(name)} twice`, file, key);
    // Checkpoint files are named after agents.
    if (!/^[A-Za-z0-9_.-]+$/.test(name))
      throw new ConfigError(
        `${key} may hold only letters, digits, '_', '.' and '-', got ${JSON.stringify(name)}`,
        file,
        key,
      );
    names.add(name);
  });
}
