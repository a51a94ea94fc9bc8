// The typed SAT configuration. Field names are the camelCase of the YAML keys of the SAT reference
// (github.com/Yydc/SAT-AAMAS configs/sat_*.yaml): `train_batch_size` -> `trainBatchSize`,
// `kl_ctrl` -> `klCtrl`, `stage0_delta` -> `stage0Delta`; the two exceptions are `sat.A_clip` ->
// `sat.advantageClip` and `certificate.A_max` -> `certificate.advantageMax`. Every field is filled:
// defaults and checks live in schema.ts, next to each key.
import type { LoraConfig } from '../agent/model/weights.ts';

export type Workflow = 'chain' | 'ensemble';
export type AdvMode = 'grpo' | 'gae';
export type GroupBaseline = 'mean' | 'max';
export type SchedulerMode = 'static' | 'random' | 'greedy_info_gain';

/** Everything a config file sets, section by section, in the reference files' order; ours last. */
export interface ConfigValues {
  algorithm: AlgorithmConfig;
  /**
   * verl-style keys the reference files carry; where `sat.*` or `algorithm.kl_ctrl.*` names the same thing, that
   * wins.
   */
  actorRolloutRef: ActorRolloutRefConfig;
  data: DataConfig;
  generation: GenerationConfig;
  sat: SatSection;
  training: TrainingConfig;
  evaluation: EvaluationConfig;
  certificate: CertificateConfig;
  logging: LoggingConfig;
  dataset: DatasetConfig;
  /** Ours: how the agents work together. */
  team: TeamConfig;
  /** Ours: seeds prompt choice, sampling and the `random` scheduler (the reference's `--seed`, default 42). */
  seed: number;
}

/** A loaded configuration: the values plus where they came from. */
export interface SatConfig extends ConfigValues {
  source: ConfigSource;
}

export interface ConfigSource {
  /** Absolute path of the file; relative paths in it were resolved against its folder. */
  file: string;
  format: 'yaml' | 'json';
  /** One line per key the schema does not know, e.g. `sat.shceduler: unknown key, ignored; did you mean `sat.scheduler`?`. */
  warnings: string[];
}

export interface AlgorithmConfig {
  /** Discount factor, in (0, 1]. */
  gamma: number;
  /** GAE lambda (`lam`), in [0, 1]. */
  lam: number;
  /** `kl_penalty`: the reference names the KL form; `kl` is the only one. */
  klPenalty: 'kl';
  klCtrl: KlCtrlConfig;
}

export interface KlCtrlConfig {
  type: 'per_state_quantile';
  /** Initial KL penalty beta (per agent; multiplied by 1.5 on each backtrack). */
  klCoef: number;
  /** Per-agent trust-region radius delta_i. */
  targetKl: number;
  /** The (1 - alpha) quantile of per-state KL that must stay <= targetKl, in (0, 1). */
  quantile: number;
}

export interface ActorRolloutRefConfig {
  actor: ActorConfig;
  rollout: { /** Samples per prompt in verl; SAT reads `sat.group_size`. */ n: number };
  /** Always `{}` in the reference; any key in it is reported as unknown. */
  ref: Record<string, never>;
}

export interface ActorConfig {
  useKlLoss: boolean;
  /** `(ratio - 1) - log ratio` per token, the only KL estimator. */
  klLossType: 'k1+';
  klLossCoef: number;
  ppoEpochs: number;
  /** Trajectories per optimizer step; 0: the whole batch at once. */
  ppoMiniBatchSize: number;
  /** verl's PPO clip; SAT reads `sat.epsilon`. */
  clipRatio: number;
  lossAggMode: 'token-mean';
}

export interface DataConfig {
  /** Prompts per stage. */
  trainBatchSize: number;
  maxPromptLength: number;
  maxResponseLength: number;
}

export interface GenerationConfig {
  /** >= 0; 0 decodes greedily. */
  temperature: number;
  /** Nucleus mass, in (0, 1]. */
  topP: number;
  /** Ours: Qwen3's thinking switch for chat-formatted turns (default off: short turns answer at once). */
  enableThinking: boolean;
}

export interface SatSection {
  /** PPO clip epsilon. */
  epsilon: number;
  /** `A_clip`: advantages are clipped to +-advantageClip. */
  advantageClip: number;
  /** Samples per prompt (G). */
  groupSize: number;
  epsilonIs: number;
  /** Per-token log importance ratios are clipped to +-maxIsRatioClip before exp. */
  maxIsRatioClip: number;
  advMode: AdvMode;
  groupBaseline: GroupBaseline;
  groupNorm: boolean;
  scheduler: { mode: SchedulerMode };
  maxBacktracks: number;
  /** Ours: how many times the line search may grow the step past the trained one while the trust region allows. */
  maxStepGrowths: number;
  /** Per-state KL budget of a Stage-0 plug-and-play upgrade. */
  stage0Delta: number;
  agents: AgentConfig[];
}

export interface AgentConfig {
  /** Defaults to `agent_<slot + 1>`; unique in the team. */
  name: string;
  /** A model folder (resolved against the config's folder) or a Hugging Face repo id / model name, kept as written. */
  path: string;
  /** The stronger model this slot is upgraded to through Stage-0, or null. Resolved like `path`. */
  upgrade: string | null;
  /** Ours: the agent's role in chat-formatted turns (solver, critic, finalizer, or one's own with `systemPrompt`). */
  role: string | null;
  /** Ours: the agent's system message in chat-formatted turns; null: its role's built-in prompt. */
  systemPrompt: string | null;
}

export interface TrainingConfig {
  learningRate: number;
  weightDecay: number;
  warmupSteps: number;
  /** Weight of the value loss in GAE mode. */
  vfCoef: number;
  clipVf: boolean;
  numStages: number;
  /** Ours: LoRA adapters instead of full fine-tuning; null (the default) trains every weight. */
  lora: LoraConfig | null;
}

export interface EvaluationConfig {
  /** K of avg@K / pass@K. */
  numSamplesPerAgent: number;
  ensembleStrategy: 'majority_vote';
}

export interface CertificateConfig {
  /** `A_max`: the advantage ceiling in the bound; defaults to `sat.A_clip` and may not be below it. */
  advantageMax: number;
  /** 1 - confidence level, in (0, 1). */
  deltaConf: number;
  /**
   * Ours: the share of each stage's prompts whose samples no update learns from; the stage's reward change is
   * measured on them (docs/design §1.11).
   */
  holdout: number;
}

export interface LoggingConfig {
  /** Checkpoints and stage_log.jsonl go here (absolute). */
  saveDir: string;
  checkpointEveryStage: number;
  everyNSteps: number;
  /** How many of the latest saved stages are kept; 0 keeps every one. */
  keepCheckpoints: number;
}

export interface DatasetConfig {
  /** JSONL or Parquet files (absolute), or null when the command supplies the data. */
  trainPath: string | null;
  testPath: string | null;
  /**
   * The layout of both files' rows (node/tasks/dataset-layouts.ts): `gsm8k`, `math`, `aime` or
   * `prompt-answer` pins it; null or any other label (the SAT reference's `math500`, `demo`) has it
   * detected from each file's first row.
   */
  type: string | null;
}

export interface TeamConfig {
  /** `chain` (turns in order, shared reward; the default) or `ensemble` (independent answers, majority vote). */
  workflow: Workflow;
  /**
   * How an agent reads the transcript: `chat` (its tokenizer's chat template: role prompt, problem, attributed
   * earlier turns), `plain` (the problem and the turns joined by newlines), or `auto` (chat when the tokenizer
   * ships a template; the default).
   */
  turns: 'auto' | 'chat' | 'plain';
}
