// The `chain` workflow's transcript (docs/design §1.1): the problem, then one turn per agent in turn order,
// each turn seeing the problem and every earlier turn. A transcript holds the problem's ids and each turn's
// sampled ids; a ChainFormat says what a turn's taker reads before it. Without a chat template, in token ids:
//
//   encode(prompt + '\n')  turn_1 <eos> encode('\n')  turn_2 <eos> ...
//
// and with one, each agent reads its own chat rendering (chat-format.ts). A turn ends with the end-of-turn
// token, so generation stops there by itself. The same layout serves pretraining (teacher-forced transcripts),
// rollouts (sampled ones) and scoring (re-scored ones).
import type { GenerateOptions, Generation } from '../agent/model/generate.ts';
import type { TurnGenerator } from '../agent/policy.ts';
import type { SamplingConfig } from '../agent/model/sampler.ts';
import type { Problem } from './dataset.ts';
import type { Tokenizer } from '../agent/model/tokenizer.ts';
import { isCorrect } from './verifier.ts';

/**
 * One agent's generated turn: its token ids (the closing end-of-turn token included when it came) and their sampling
 * log-probs.
 */
export interface TranscriptTurn {
  slot: number;
  ids: number[];
  logprobs: number[];
}

export interface ChainTranscript {
  promptIds: number[];
  turns: TranscriptTurn[];
}

/**
 * Generates the given rows of a turn here, each from its own seeded stream (GenerateOptions.rows), or from the streams
 * `streams` names instead.
 */
export type MakeRows = (rows: readonly number[], streams?: readonly number[]) => Promise<Generation[]>;

/**
 * A turn taken elsewhere (an agent on another peer), or shared among the peers that hold its agent: given the
 * transcripts so far and the turn's index, that turn of each. A shared turn with a `generator` here is given `make`
 * for the rows that fall to this peer.
 */
export interface RemoteTurn {
  take(
    transcripts: readonly ChainTranscript[],
    turn: number,
    make?: MakeRows,
  ): Promise<Pick<Generation, 'tokens' | 'logprobs'>[]>;
  generator?: TurnGenerator;
}

/** Whoever takes a turn: a generator here, or a peer elsewhere. */
export type TurnTaker = TurnGenerator | RemoteTurn;

/** Where the learner reads a transcript's turns: sequences of ids, and per turn its sequence and [start, end) in it. */
export interface TranscriptLayout {
  sequences: number[][];
  turns: { sequence: number; span: [number, number] }[];
}

/** How a team lays out chain transcripts in token ids: plainly (below), or in chat turns (chat-format.ts). */
export interface ChainFormat {
  /** The problem's ids, as transcripts carry it. */
  promptIds(prompt: string): number[];
  /** The ids the taker of the next turn, `slot`, reads before its own: the problem and the turns so far. */
  contextIds(t: ChainTranscript, slot: number): number[];
  /** Where each turn is read in context: every turn's tokens exactly as they were sampled. */
  layout(t: ChainTranscript): TranscriptLayout;
  /** A turn's text as the ids a model should produce for it (closing token included). */
  turnIds(text: string): number[];
  endOfTurn: number;
  /** A turn's text as the team reads it: what later turns see and where the verifier looks. */
  turnText(ids: number[]): string;
  /** The most ids a sequence can hold: prompts of up to `promptTokens`, `turns` turns of up to `turnTokens`. */
  maxSequence(promptTokens: number, turns: number, turnTokens: number): number;
}

/** The format of tokenizers without a chat template: one sequence, each turn seeing the whole transcript so far. */
export function chainFormat(tok: Tokenizer): ChainFormat {
  const endOfTurn = tok.eosTokenIds[0];
  if (endOfTurn === undefined) throw new Error('the tokenizer names no end-of-sequence token to close turns with');
  const separator = tok.encode('\n');
  const f: ChainFormat = {
    promptIds: (prompt) => tok.encode(`${prompt}\n`),
    contextIds: (t) => {
      const { ids } = transcriptIds(separator, t);
      return t.turns.length > 0 ? [...ids, ...separator] : ids;
    },
    layout: (t) => {
      const { ids, spans } = transcriptIds(separator, t);
      return { sequences: [ids], turns: spans.map((span) => ({ sequence: 0, span })) };
    },
    turnIds: (text) => [...tok.encode(text), endOfTurn],
    endOfTurn,
    turnText: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    maxSequence: (promptTokens, turns, turnTokens) => promptTokens + turns * (turnTokens + separator.length),
  };
  return f;
}

/** The plain layout: the prompt's ids, then the turns joined by `separator`; [start, end) per turn. */
function transcriptIds(separator: number[], t: ChainTranscript): { ids: number[]; spans: [number, number][] } {
  const ids = [...t.promptIds];
  const spans: [number, number][] = [];
  t.turns.forEach((turn, i) => {
    if (i > 0) ids.push(...separator);
    spans.push([ids.length, ids.length + turn.ids.length]);
    ids.push(...turn.ids);
  });
  return { ids, spans };
}

/**
 * The member rollouts of a team of `n` slots, as the slots taking each one's turns: the chain's one rollout of every
 * slot in turn, or the ensemble's one per slot.
 */
export const memberLineups = (workflow: 'chain' | 'ensemble', n: number): number[][] => {
  const slots = Array.from({ length: n }, (_, s) => s);
  return workflow === 'chain' ? [slots] : slots.map((s) => [s]);
};

/** The sampling seed of the k-th of several rollouts made from one seed (the ensemble's members). */
export const memberSeed = (seed: number, k: number): number => seed + 7919 * k;

/** The text of the last turn: where the team's answer is read. */
export const finalAnswerText = (f: ChainFormat, t: ChainTranscript): string => f.turnText(t.turns.at(-1)?.ids ?? []);

export interface ChainRolloutOptions {
  maxTurnTokens: number;
  /** The slot of each generator, recorded on its turns (default: its index). */
  slots?: readonly number[];
  sampling?: SamplingConfig;
  seed?: number;
  /** Called after each turn taken here (by a generator), e.g. to share it with the peers of later turns. */
  onTurn?: (transcripts: readonly ChainTranscript[], turn: number) => Promise<void>;
}

/**
 * Rolls one lineup of turn takers out on every prompt (memberLineups: the chain's whole lineup, or one ensemble
 * member alone): turn i is taken by `takers[i]` for all prompts at once, each seeing the prompt and the earlier turns.
 */
export async function rollLineup(
  f: ChainFormat,
  takers: readonly TurnTaker[],
  prompts: readonly string[],
  opts: ChainRolloutOptions,
): Promise<ChainTranscript[]> {
  const transcripts: ChainTranscript[] = prompts.map((p) => ({ promptIds: f.promptIds(p), turns: [] }));
  for (let turn = 0; turn < takers.length; turn++) {
    const taker = takers[turn];
    const slot = opts.slots?.[turn] ?? turn;
    // Each row's context as the turn begins (a shared turn's rows are made, or made again to check them, later).
    const contexts = transcripts.map((t) => f.contextIds(t, slot));
    const gen: GenerateOptions = {
      maxNewTokens: opts.maxTurnTokens,
      stopTokenIds: [f.endOfTurn],
      ...(opts.sampling ? { sampling: opts.sampling } : {}),
      seed: (opts.seed ?? 0) * 1009 + turn,
    };
    if ('take' in taker) {
      const { generator } = taker;
      const make: MakeRows | undefined =
        generator &&
        ((rows, streams = rows) =>
          generator.generate(
            rows.map((r) => contexts[r]),
            { ...gen, rows: streams },
          ));
      const out = await taker.take(transcripts, turn, make);
      out.forEach((g, i) => transcripts[i].turns.push({ slot, ids: g.tokens, logprobs: g.logprobs }));
      continue;
    }
    const out = await taker.generate(contexts, gen);
    out.forEach((g, i) => transcripts[i].turns.push({ slot, ids: g.tokens, logprobs: g.logprobs }));
    await opts.onTurn?.(transcripts, turn);
  }
  return transcripts;
}

/** Share of `problems` the chain of `generators` (one per turn) answers right, greedy. */
export async function chainAccuracy(
  f: ChainFormat,
  generators: readonly TurnTaker[],
  problems: readonly Problem[],
  maxTurnTokens = 32,
): Promise<number> {
  const out = await rollLineup(
    f,
    generators,
    problems.map((p) => p.prompt),
    { maxTurnTokens },
  );
  return out.filter((t, i) => isCorrect(finalAnswerText(f, t), problems[i].answer)).length / problems.length;
}
