// Evaluating a team on held-out problems: K sampled team answers per problem give avg@K (mean share
// correct), pass@K (any correct) and the majority-vote accuracy (the most common of the K answers);
// greedy gives the team's deterministic accuracy; each agent standing in for every slot gives the
// same metrics of its own. The team's answer is the chain's last turn, or the majority of the agents' in the ensemble.
import {
  type ChainRolloutOptions,
  type ChainTranscript,
  type RemoteTurn,
  type TurnTaker,
  finalAnswerText,
  memberLineups,
  memberSeed,
  rollLineup,
} from '../tasks/chain.ts';
import type { TurnGenerator } from '../agent/policy.ts';
import type { Problem } from '../tasks/dataset.ts';
import { answerMatches, extractAnswer } from '../tasks/verifier.ts';
import type { ConfigValues } from '../config/load.ts';
import type { StageRecord } from './stage.ts';
import type { LocalTeam } from './team.ts';

export interface Prediction {
  /** Who answered: 'team', or the name of an agent standing in for every slot. */
  by: string;
  id: string;
  sample: number;
  answer: string;
  /** Each turn's text, in turn order. */
  turns: string[];
  extracted: string | null;
  correct: boolean;
}

export interface Evaluation {
  problems: number;
  k: number;
  greedyAccuracy: number;
  avgAtK: number;
  passAtK: number;
  majorityVoteAccuracy: number;
  /** Each agent taking every turn of the chain alone: its greedy accuracy and its K-sample metrics. */
  agents: ({ name: string; soloAccuracy: number } & Omit<SampledMetrics, 'predictions'>)[];
  predictions: Prediction[];
}

/**
 * The most common answer among `answers`, answers counted together when the verifier finds them equal by value (each
 * joins the first group it matches; first seen wins ties); undefined when none was extracted.
 */
export function majorityAnswer(answers: readonly (string | undefined)[]): string | undefined {
  const groups: { n: number; raw: string }[] = [];
  for (const a of answers) {
    if (a === undefined) continue;
    const group = groups.find((g) => answerMatches(a, g.raw));
    if (group) group.n++;
    else groups.push({ n: 1, raw: a });
  }
  let best: { n: number; raw: string } | undefined;
  for (const g of groups) if (!best || g.n > best.n) best = g;
  return best?.raw;
}

interface TeamAnswer {
  /** The text of every turn (chain) or of every agent's answer (ensemble). */
  turns: string[];
  answer: string | undefined;
}

/**
 * How an evaluation reaches the slots whose agents run on other peers (a network team): the turns of
 * a remote slot in rollout `rollout`, and sharing those taken here.
 */
export interface EvalLink {
  remoteTurn(rollout: string, slot: number): RemoteTurn;
  shareTurn(rollout: string, transcripts: readonly ChainTranscript[]): Promise<void>;
}

/** What an evaluation needs of a team. */
export type EvalTeam = Pick<LocalTeam, 'format' | 'workflow'>;

/**
 * Each member rollout's takers (the chain has one rollout, the ensemble one per agent) and how its
 * turns are shared; `name` tells one evaluation's rollouts from another's on the network.
 */
function members(team: EvalTeam, generators: readonly (TurnTaker | undefined)[], link?: EvalLink, name = 'eval') {
  return memberLineups(team.workflow, generators.length).map((slots, k) => {
    const rollout = `${name}/${k}`;
    const takers = slots.map((s) => generators[s] ?? link!.remoteTurn(rollout, s));
    return { takers, ...(link ? { onTurn: (ts: readonly ChainTranscript[]) => link.shareTurn(rollout, ts) } : {}) };
  });
}

/** Each member rollout's transcripts: the chain's one, or the ensemble's one per agent. */
async function rollMembers(
  team: EvalTeam,
  generators: readonly (TurnTaker | undefined)[],
  prompts: readonly string[],
  opts: ChainRolloutOptions,
  link?: EvalLink,
  name?: string,
): Promise<ChainTranscript[][]> {
  const rollouts = members(team, generators, link, name);
  if (team.workflow === 'chain')
    return [await rollLineup(team.format, rollouts[0].takers, prompts, { ...opts, ...rollouts[0] })];
  const each: ChainTranscript[][] = [];
  for (const [k, m] of rollouts.entries())
    each.push(
      await rollLineup(team.format, m.takers, prompts, {
        ...opts,
        ...m,
        slots: [k],
        seed: memberSeed(opts.seed ?? 0, k),
      }),
    );
  return each;
}

/**
 * One team answer per prompt from its member rollouts: the chain's last turn, or in the ensemble the majority of the
 * agents' own answers.
 */
function answersOf(team: EvalTeam, each: readonly (readonly ChainTranscript[])[]): TeamAnswer[] {
  const f = team.format;
  if (team.workflow === 'chain')
    return each[0].map((t) => ({
      turns: t.turns.map((u) => f.turnText(u.ids)),
      answer: extractAnswer(finalAnswerText(f, t)),
    }));
  return each[0].map((_, i) => {
    const turns = each.map((out) => finalAnswerText(f, out[i]));
    return { turns, answer: majorityAnswer(turns.map(extractAnswer)) };
  });
}

const answerIsRight = (a: TeamAnswer, reference: string) =>
  a.answer !== undefined && answerMatches(a.answer, reference);

/** A team whose agents may live on other peers (undefined here). */
type AgentsTeam = EvalTeam & { agents: readonly ({ policy: TurnGenerator } | undefined)[] };

/** The team's generators by slot (undefined where the agent is on another peer). */
const lineup = (team: AgentsTeam): (TurnGenerator | undefined)[] => team.agents.map((a) => a?.policy);

/** One agent (here) standing in for the whole team: every turn of the chain, or the only voter of the ensemble. */
export const alone = (team: AgentsTeam, slot: number): TurnGenerator[] =>
  team.workflow === 'chain' ? team.agents.map(() => team.agents[slot]!.policy) : [team.agents[slot]!.policy];

/**
 * Greedy accuracy on `problems` of the team, or of another lineup of generators in its workflow; on a
 * network, the slots without a generator here take their turns on their peers, through `link`.
 */
export async function teamAccuracy(
  team: LocalTeam | EvalTeam,
  problems: readonly Problem[],
  maxTurnTokens: number,
  generators: readonly (TurnTaker | undefined)[] = lineup(team as LocalTeam),
  link?: EvalLink,
): Promise<number> {
  const answers = answersOf(
    team,
    await rollMembers(
      team,
      generators,
      problems.map((p) => p.prompt),
      { maxTurnTokens },
      link,
    ),
  );
  return answers.filter((a, i) => answerIsRight(a, problems[i].answer)).length / problems.length;
}

export interface SampledMetrics {
  avgAtK: number;
  passAtK: number;
  majorityVoteAccuracy: number;
  predictions: Prediction[];
}

/** How K samples of each problem are drawn. */
export interface SampledOptions {
  k: number;
  sampling: { temperature: number; topP: number };
  seed: number;
  maxTurnTokens: number;
}

/** Each problem repeated K times, in order: the rows of a K-sample evaluation. */
const sampleRows = (problems: readonly Problem[], k: number) =>
  problems.flatMap((p) => Array.from({ length: k }, (_, sample) => ({ p, sample })));

/**
 * The member rollouts of K samples of every problem by `generators` (on a network, through `link` under rollout
 * `name`).
 */
export function rollSamples(
  team: EvalTeam,
  problems: readonly Problem[],
  o: SampledOptions,
  generators: readonly (TurnTaker | undefined)[],
  link?: EvalLink,
  name = 'sampled',
): Promise<ChainTranscript[][]> {
  return rollMembers(
    team,
    generators,
    sampleRows(problems, o.k).map((r) => r.p.prompt),
    { maxTurnTokens: o.maxTurnTokens, sampling: { ...o.sampling, topK: 0 }, seed: o.seed },
    link,
    name,
  );
}

/**
 * K sampled team answers per problem (or of another lineup, named `by`): avg@K, pass@K and the majority vote over the
 * K, with every sample.
 */
export async function sampledMetrics(
  team: LocalTeam,
  problems: readonly Problem[],
  k: number,
  sampling: { temperature: number; topP: number },
  seed: number,
  maxTurnTokens: number,
  generators: readonly (TurnTaker | undefined)[] = lineup(team),
  by = 'team',
): Promise<SampledMetrics> {
  return metricsOf(
    team,
    problems,
    k,
    await rollSamples(team, problems, { k, sampling, seed, maxTurnTokens }, generators),
    by,
  );
}

/** avg@K, pass@K and the majority vote from K-sample member rollouts (rollSamples'), with every sample. */
export function metricsOf(
  team: EvalTeam,
  problems: readonly Problem[],
  k: number,
  each: readonly (readonly ChainTranscript[])[],
  by = 'team',
): SampledMetrics {
  const rows = sampleRows(problems, k);
  const answers = answersOf(team, each);
  const predictions = answers.map(
    (a, i): Prediction => ({
      by,
      id: rows[i].p.id,
      sample: rows[i].sample,
      answer: rows[i].p.answer,
      turns: a.turns,
      extracted: a.answer ?? null,
      correct: answerIsRight(a, rows[i].p.answer),
    }),
  );
  let avg = 0;
  let pass = 0;
  let vote = 0;
  problems.forEach((p, j) => {
    const mine = predictions.slice(j * k, (j + 1) * k);
    const right = mine.filter((x) => x.correct).length;
    avg += right / k;
    if (right > 0) pass++;
    const majority = majorityAnswer(mine.map((x) => x.extracted ?? undefined));
    if (majority !== undefined && answerMatches(majority, p.answer)) vote++;
  });
  const n = problems.length;
  return { avgAtK: avg / n, passAtK: pass / n, majorityVoteAccuracy: vote / n, predictions };
}

export async function evaluateTeam(
  team: LocalTeam,
  problems: readonly Problem[],
  k: number,
  sampling: { temperature: number; topP: number },
  seed: number,
  maxTurnTokens: number,
): Promise<Evaluation> {
  const sampled = await sampledMetrics(team, problems, k, sampling, seed, maxTurnTokens);
  const agents: Evaluation['agents'] = [];
  for (const [slot, a] of team.agents.entries()) {
    const { predictions, ...own } = await sampledMetrics(
      team,
      problems,
      k,
      sampling,
      seed,
      maxTurnTokens,
      alone(team, slot),
      a.name,
    );
    sampled.predictions.push(...predictions);
    agents.push({
      name: a.name,
      soloAccuracy: await teamAccuracy(team, problems, maxTurnTokens, alone(team, slot)),
      ...own,
    });
  }
  return {
    problems: problems.length,
    k,
    greedyAccuracy: await teamAccuracy(team, problems, maxTurnTokens),
    ...sampled,
    agents,
  };
}

/**
 * What a stage's row reports of the held-out set after the stage: `train` and every peer of a network team log the
 * same.
 */
export interface StageEvaluation {
  testAccuracy: number;
  avgAtK: number;
  passAtK: number;
  k: number;
  /** Each agent's own avg@K, by slot: it alone takes every turn (or casts the only vote). */
  alone: number[];
}

/** How a stage's evaluation reaches the agents on other peers: their turns, and the rollouts of each of them alone. */
export interface StageEvalLink extends EvalLink {
  /** Makes the K-sample rollout of this peer's agent alone (`slot`'s) known to the others. */
  shareAlone(slot: number, transcripts: readonly ChainTranscript[]): Promise<void>;
  /** That of a remote `slot`'s agent, from its peer. */
  remoteAlone(slot: number): Promise<ChainTranscript[]>;
}

/**
 * The held-out metrics of a stage's row: greedy accuracy, avg@K and pass@K of the team, and each
 * agent's avg@K alone. On a network, the team's rollouts take every peer's turns, and each agent's
 * solo rollout is made on its own peer and read by the others from its transcripts.
 */
export async function stageEvaluation(
  team: AgentsTeam,
  problems: readonly Problem[],
  o: SampledOptions,
  link?: StageEvalLink,
): Promise<StageEvaluation> {
  const generators = lineup(team);
  const testAccuracy = await teamAccuracy(team, problems, o.maxTurnTokens, generators, link);
  const { avgAtK, passAtK } = metricsOf(team, problems, o.k, await rollSamples(team, problems, o, generators, link));
  // The agents here roll alone first, so every peer's solo rollout runs at once; then the others' are read.
  const each: ChainTranscript[][][] = [];
  for (const [slot, agent] of team.agents.entries()) {
    if (!agent) continue;
    each[slot] = await rollSamples(team, problems, o, alone(team, slot));
    await link?.shareAlone(slot, each[slot][0]);
  }
  for (const [slot, agent] of team.agents.entries()) if (!agent) each[slot] = [await link!.remoteAlone(slot)];
  const solo = each.map((e) => metricsOf(team, problems, o.k, e).avgAtK);
  return { testAccuracy, avgAtK, passAtK, k: o.k, alone: solo };
}

/**
 * How the stage log's K samples are drawn after `stage` (config evaluation.num_samples_per_agent, the rollout's
 * sampling, a seed per stage).
 */
export const evalOptions = (cfg: ConfigValues, stage: number): SampledOptions => ({
  k: cfg.evaluation.numSamplesPerAgent,
  sampling: cfg.generation,
  seed: cfg.seed + stage,
  maxTurnTokens: cfg.data.maxResponseLength,
});

/** A stage's row of the stage log: its record, each agent with its own avg@K, and the team's held-out metrics. */
export type StageRow = ReturnType<typeof stageRow<StageRecord>>;

export function stageRow<R extends { agents: readonly { slot: number }[] }>(
  record: R,
  e: StageEvaluation,
  seconds: number,
) {
  const agents = record.agents.map((a) => ({ ...a, test_avg_at_k: e.alone[a.slot] }));
  return {
    ...record,
    agents,
    test_accuracy: e.testAccuracy,
    test_avg_at_k: e.avgAtK,
    test_pass_at_k: e.passAtK,
    k: e.k,
    seconds,
  };
}
