// Evaluating a team on held-out problems: K sampled team answers per problem give avg@K (mean share
// correct), pass@K (any correct) and the majority-vote accuracy (the most common of the K answers);
// greedy gives the team's deterministic accuracy; each agent standing in for every slot gives the
// same metrics of its own. The team's answer is the chain's last turn, or the majority of the agents' in the ensemble.
import { type ChainRolloutOptions, type ChainTranscript, type RemoteTurn, type TurnGenerator, type TurnTaker, finalAnswerText, memberLineups, memberSeed, rollChain } from './agent/chain.ts';
import type { Problem } from './agent/dataset.ts';
import { answerMatches, extractAnswer, normalizeAnswer } from './agent/verifier.ts';
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

/** The most common normalized answer among `answers` (first seen wins ties); undefined when none was extracted. */
export function majorityAnswer(answers: readonly (string | undefined)[]): string | undefined {
  const counts = new Map<string, { n: number; raw: string }>();
  for (const a of answers) {
    if (a === undefined) continue;
    const key = normalizeAnswer(a);
    const c = counts.get(key) ?? { n: 0, raw: a };
    c.n++;
    counts.set(key, c);
  }
  let best: { n: number; raw: string } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
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

/** Each member rollout's takers (the chain has one rollout, the ensemble one per agent) and how its turns are shared. */
function members(team: EvalTeam, generators: readonly (TurnTaker | undefined)[], link?: EvalLink) {
  return memberLineups(team.workflow, generators.length).map((slots, k) => {
    const rollout = `eval/${k}`;
    const takers = slots.map((s) => generators[s] ?? link!.remoteTurn(rollout, s));
    return { takers, ...(link ? { onTurn: (ts: readonly ChainTranscript[]) => link.shareTurn(rollout, ts) } : {}) };
  });
}

/** One team answer per prompt: the chain's last turn, or in the ensemble the majority of the agents' own answers. */
async function teamAnswers(team: EvalTeam, generators: readonly (TurnTaker | undefined)[], prompts: readonly string[], opts: ChainRolloutOptions, link?: EvalLink): Promise<TeamAnswer[]> {
  const f = team.format;
  const rollouts = members(team, generators, link);
  if (team.workflow === 'chain') {
    const out = await rollChain(f, rollouts[0].takers, prompts, { ...opts, ...rollouts[0] });
    return out.map((t) => ({ turns: t.turns.map((u) => f.decode(u.ids)), answer: extractAnswer(finalAnswerText(f, t)) }));
  }
  const each: ChainTranscript[][] = [];
  for (const [k, m] of rollouts.entries()) each.push(await rollChain(f, m.takers, prompts, { ...opts, ...m, slots: [k], seed: memberSeed(opts.seed ?? 0, k) }));
  return prompts.map((_, i) => {
    const turns = each.map((out) => finalAnswerText(f, out[i]));
    return { turns, answer: majorityAnswer(turns.map(extractAnswer)) };
  });
}

const answerIsRight = (a: TeamAnswer, reference: string) => a.answer !== undefined && answerMatches(a.answer, reference);

/** The team's generators by slot. */
const lineup = (team: LocalTeam): TurnGenerator[] => team.agents.map((a) => a.policy);

/** One agent standing in for the whole team: every turn of the chain, or the only voter of the ensemble. */
export const alone = (team: LocalTeam, slot: number): TurnGenerator[] =>
  (team.workflow === 'chain' ? team.agents.map(() => team.agents[slot].policy) : [team.agents[slot].policy]);

/**
 * Greedy accuracy on `problems` of the team, or of another lineup of generators in its workflow; on a
 * network, the slots without a generator here take their turns on their peers, through `link`.
 */
export async function teamAccuracy(team: LocalTeam | EvalTeam, problems: readonly Problem[], maxTurnTokens: number, generators: readonly (TurnTaker | undefined)[] = lineup(team as LocalTeam), link?: EvalLink): Promise<number> {
  const answers = await teamAnswers(team, generators, problems.map((p) => p.prompt), { maxTurnTokens }, link);
  return answers.filter((a, i) => answerIsRight(a, problems[i].answer)).length / problems.length;
}

export interface SampledMetrics { avgAtK: number; passAtK: number; majorityVoteAccuracy: number; predictions: Prediction[] }

/** K sampled team answers per problem (or of another lineup, named `by`): avg@K, pass@K and the majority vote over the K, with every sample. */
export async function sampledMetrics(team: LocalTeam, problems: readonly Problem[], k: number, sampling: { temperature: number; topP: number }, seed: number, maxTurnTokens: number, generators = lineup(team), by = 'team'): Promise<SampledMetrics> {
  const rows = problems.flatMap((p) => Array.from({ length: k }, (_, sample) => ({ p, sample })));
  const answers = await teamAnswers(team, generators, rows.map((r) => r.p.prompt), { maxTurnTokens, sampling: { ...sampling, topK: 0 }, seed });
  const predictions = answers.map((a, i): Prediction => ({
    by, id: rows[i].p.id, sample: rows[i].sample, answer: rows[i].p.answer, turns: a.turns,
    extracted: a.answer ?? null, correct: answerIsRight(a, rows[i].p.answer),
  }));
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

export async function evaluateTeam(team: LocalTeam, problems: readonly Problem[], k: number, sampling: { temperature: number; topP: number }, seed: number, maxTurnTokens: number): Promise<Evaluation> {
  const sampled = await sampledMetrics(team, problems, k, sampling, seed, maxTurnTokens);
  const agents: Evaluation['agents'] = [];
  for (const [slot, a] of team.agents.entries()) {
    const { predictions, ...own } = await sampledMetrics(team, problems, k, sampling, seed, maxTurnTokens, alone(team, slot), a.name);
    sampled.predictions.push(...predictions);
    agents.push({ name: a.name, soloAccuracy: await teamAccuracy(team, problems, maxTurnTokens, alone(team, slot)), ...own });
  }
  return { problems: problems.length, k, greedyAccuracy: await teamAccuracy(team, problems, maxTurnTokens), ...sampled, agents };
}
