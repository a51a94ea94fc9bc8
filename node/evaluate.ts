// Evaluating a team on held-out problems: K sampled chains per problem give avg@K (mean share correct),
// pass@K (any correct) and the majority-vote team accuracy (the most common final answer); greedy gives
// the team's deterministic accuracy, and each agent taking every turn alone gives its own strength.
import { chainAccuracy, finalAnswerText, rollChain } from './agent/chain.ts';
import type { Problem } from './agent/dataset.ts';
import { extractAnswer, isCorrect, normalizeAnswer } from './agent/verifier.ts';
import type { LocalTeam } from './team.ts';

export interface Prediction {
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
  /** Greedy accuracy of each agent taking every turn of the chain alone. */
  agents: { name: string; soloAccuracy: number }[];
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

export async function evaluateTeam(team: LocalTeam, problems: readonly Problem[], k: number, sampling: { temperature: number; topP: number }, seed: number): Promise<Evaluation> {
  const f = team.format;
  const generators = team.agents.map((a) => a.generator);
  const rows = problems.flatMap((p) => Array.from({ length: k }, (_, sample) => ({ p, sample })));
  const transcripts = await rollChain(f, generators, rows.map((r) => r.p.prompt), { maxTurnTokens: 32, sampling: { ...sampling, topK: 0 }, seed });
  const predictions = transcripts.map((t, i): Prediction => {
    const text = finalAnswerText(f, t);
    return {
      id: rows[i].p.id, sample: rows[i].sample, answer: rows[i].p.answer, turns: t.turns.map((turn) => f.decode(turn.ids)),
      extracted: extractAnswer(text) ?? null, correct: isCorrect(text, rows[i].p.answer),
    };
  });
  let avg = 0;
  let pass = 0;
  let vote = 0;
  problems.forEach((p, j) => {
    const mine = predictions.slice(j * k, (j + 1) * k);
    const right = mine.filter((x) => x.correct).length;
    avg += right / k;
    if (right > 0) pass++;
    const majority = majorityAnswer(mine.map((x) => x.extracted ?? undefined));
    if (majority !== undefined && isCorrect(`Answer: ${majority}`, p.answer)) vote++;
  });
  const n = problems.length;
  const agents = [];
  for (const a of team.agents) agents.push({ name: a.name, soloAccuracy: await chainAccuracy(f, generators.map(() => a.generator), problems) });
  return {
    problems: n, k, greedyAccuracy: await chainAccuracy(f, generators, problems),
    avgAtK: avg / n, passAtK: pass / n, majorityVoteAccuracy: vote / n, agents, predictions,
  };
}
