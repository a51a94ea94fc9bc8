// One agent of a team: its checkpoint, its trainable state (full or LoRA) under the SAT policy loss,
// and a generator and scorer that always see the current parameters. Its KL penalty beta lives here
// because it persists across stages (docs/design §1.9, trust region). A newcomer that entered through
// Stage-0 also holds the incumbent it is projected onto, until the ball is relaxed away.
import type { LoadProgress, SessionOptions } from '../gpu/ort.ts';
import { type TurnGenerator, inMicroBatches } from './policy.ts';
import { type Checkpoint, loadCheckpoint } from './model/checkpoint.ts';
import { InputError } from './errors.ts';
import { Generator } from './model/generate.ts';
import { satActorCriticLoss, satPolicyLoss } from './learner/sat-loss.ts';
import { Scorer } from './model/score.ts';
import { ProjectedGenerator } from './learner/stage0/generate.ts';
import { type Stage0Slot, projectedLogprobs, stage0States } from './learner/stage0/slot.ts';
import type { Trainable } from './train/trainable.ts';
import { Trainer } from './train/trainer.ts';
import type { AdamWConfig } from '../gpu/adamw.ts';

export interface AgentOptions {
  name: string;
  /** The checkpoint folder the agent starts from. */
  dir: string;
  trainable: Trainable;
  optimizer: Partial<AdamWConfig>;
  /** Initial KL coefficient (algorithm.kl_ctrl.kl_coef). */
  beta: number;
  seed: number;
  session?: SessionOptions;
  /** GAE mode: train a value head beside the policy, with the actor-critic loss. */
  critic?: boolean;
  /** The rollout temperature: the policy trained and scored is softmax(logits / temperature). */
  temperature?: number;
  /**
   * Rows generated, scored and trained on at once: a batch is taken in micro-batches of this many (default: all at
   * once).
   */
  microBatch?: number;
}

export class Agent {
  readonly ckpt: Checkpoint;
  readonly trainer: Trainer;
  readonly generator: Generator;
  readonly scorer: Scorer;
  beta: number;
  /** Set while the agent is a newcomer decoding through the Stage-0 projection. */
  stage0?: Stage0Slot;

  readonly name: string;
  /** Rows generated, scored and trained on at once (0: the whole batch). */
  readonly microBatch: number;
  private readonly critic: boolean;

  constructor(o: AgentOptions) {
    this.name = o.name;
    this.microBatch = o.microBatch ?? 0;
    this.critic = o.critic ?? false;
    this.ckpt = loadCheckpoint(o.dir);
    this.trainer = Trainer.create(this.ckpt, {
      loss: o.critic ? satActorCriticLoss : satPolicyLoss,
      valueHead: o.critic,
      trainable: o.trainable,
      optimizer: o.optimizer,
      session: o.session,
      seed: o.seed,
      temperature: o.temperature,
    });
    this.generator = new Generator(this.ckpt, o.session, this.trainer.paramSource());
    this.scorer = new Scorer(this.ckpt, o.session, this.trainer.paramSource(), o.temperature);
    this.beta = o.beta;
  }

  /** What takes the agent's turns: its own generator, or the Stage-0 projection onto the incumbent. */
  get policy(): TurnGenerator {
    const own = this.stage0
      ? new ProjectedGenerator(
          this.generator,
          this.stage0.incumbent.generator,
          this.stage0.incumbent.projector,
          this.stage0.delta,
          this.scorer.temperature,
        )
      : this.generator;
    return this.microBatch > 0 ? inMicroBatches(own, this.microBatch) : own;
  }

  /** Teacher-forced log-probs of the tokens at `positions` of each row (position p: log p(row[p] | row[..p])). */
  async logprobsAt(rows: readonly number[][], positions: readonly number[][]): Promise<Float32Array[]> {
    return (await this.scoreAt(rows, positions)).logprobs;
  }

  /** Log-probs of the tokens at `positions`, and with a value head V of the states they are emitted from. */
  async scoreAt(
    rows: readonly number[][],
    positions: readonly number[][],
  ): Promise<{ logprobs: Float32Array[]; values?: Float32Array[] }> {
    if (positions.some((ps) => ps.some((p) => p < 1)))
      throw new InputError('position 0 has no log-prob: nothing precedes the first token');
    const m = this.microBatch;
    if (m > 0 && rows.length > m) {
      const parts = [];
      for (let at = 0; at < rows.length; at += m)
        parts.push(await this.scoreAt(rows.slice(at, at + m), positions.slice(at, at + m)));
      const values = parts.every((p) => p.values) ? parts.flatMap((p) => p.values!) : undefined;
      return { logprobs: parts.flatMap((p) => p.logprobs), ...(values ? { values } : {}) };
    }
    // Position p's log-prob is index p - 1's: the head runs at those indices only.
    const at = positions.map((ps) => ps.map((p) => p - 1));
    if (!this.stage0) return this.scorer.logprobsAt(rows, at);
    // A Stage-0 slot's policy is the projection; its value head reads the newcomer's states.
    const { incumbent, delta } = this.stage0;
    const logprobs = await projectedLogprobs(
      await stage0States(this.scorer, incumbent.scorer, rows, positions),
      incumbent.projector,
      delta,
    );
    return { logprobs, ...(this.critic ? { values: (await this.scorer.logprobsAt(rows, at)).values! } : {}) };
  }

  /**
   * Reads the frozen weights of the agent's checkpoint now, for its generator, scorer and trainer alike (one copy),
   * reporting progress; otherwise its first generation reads them.
   */
  async loadWeights(onProgress?: LoadProgress): Promise<void> {
    await this.generator.loadWeights(onProgress);
    await this.scorer.loadWeights();
    await this.trainer.loadWeights();
  }

  /** Lets the Stage-0 incumbent go: from now on the agent is its own policy. */
  async releaseIncumbent(): Promise<void> {
    await this.stage0?.incumbent.scorer.release();
    await this.stage0?.incumbent.generator.release();
    await this.stage0?.incumbent.projector.release();
    this.stage0 = undefined;
  }

  async release(): Promise<void> {
    await this.releaseIncumbent();
    await this.generator.release();
    await this.scorer.release();
    await this.trainer.release();
  }
}
