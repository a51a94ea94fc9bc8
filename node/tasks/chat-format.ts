// Chain transcripts in chat turns, for checkpoints with a chat template (docs/design §1.1). Each agent reads its
// own rendering by the template: its role's system prompt, the problem as the user's message, every earlier turn
// as a user message that names who wrote it, then the template's opening of the assistant's turn. Its own turn
// is the ids it sampled, closed by the end-of-turn token, so it is learned from exactly as it was sampled:
//
//   <|im_start|>system\n{role prompt}<|im_end|>\n<|im_start|>user\n{problem}<|im_end|>\n
//   <|im_start|>user\n{name} ({role}) wrote:\n\n{turn 1}<|im_end|>\n ... <|im_start|>assistant\n  turn_k <|im_end|>
//
// Earlier turns are read as text (thinking blocks dropped, as the template drops an assistant's past reasoning) and
// encoded again, the same way on every peer.
import { InputError } from '../agent/errors.ts';
import type { ChatMessage, Tokenizer } from '../agent/model/tokenizer.ts';
import { type ChainFormat, type ChainTranscript, type TranscriptLayout, chainFormat } from './chain.ts';

/** A slot's part in the chat: its name, its role and the system prompt that says it. */
export interface ChatSlot {
  name: string;
  role: string;
  systemPrompt: string;
}

export interface ChatOptions {
  /** Qwen3's thinking switch, passed to the template (off: short turns answer at once). */
  enableThinking: boolean;
}

/** The system prompts of the roles a config may name without writing one. */
export const ROLE_PROMPTS: Readonly<Record<string, string>> = {
  solver:
    'You are the solver in a team of agents working on a math problem in turns. Solve it step by step, ' +
    'then give the final answer as \\boxed{answer}.',
  critic:
    "You are the critic in a team of agents working on a math problem in turns. Check the earlier agents' work " +
    'for mistakes, correct what is wrong, then give the final answer as \\boxed{answer}.',
  finalizer:
    "You are the finalizer in a team of agents working on a math problem in turns. Read the earlier agents' work " +
    "and give the team's final answer as \\boxed{answer}.",
};

/** The role of the slot at `index` of `count` in a chain, when the config names none: solver, critics, finalizer. */
export const defaultRole = (index: number, count: number): string =>
  index === 0 ? 'solver' : index === count - 1 ? 'finalizer' : 'critic';

/**
 * The chat slots of a team's agents: each one's role (its own, else by position) and system prompt (its own, else
 * its role's). A role with no built-in prompt needs one of its own.
 */
export function chatSlots(
  agents: readonly { name: string; role: string | null; systemPrompt: string | null }[],
  workflow: 'chain' | 'ensemble',
): ChatSlot[] {
  return agents.map((a, i) => {
    const role = a.role ?? (workflow === 'chain' ? defaultRole(i, agents.length) : 'solver');
    const systemPrompt = a.systemPrompt ?? ROLE_PROMPTS[role];
    if (systemPrompt === undefined)
      throw new InputError(
        `sat.agents[${i}].role '${role}' has no built-in prompt: give sat.agents[${i}].system_prompt, or use ` +
          `${Object.keys(ROLE_PROMPTS).join(', ')}`,
      );
    return { name: a.name, role, systemPrompt };
  });
}

/** Text with its `<think>…</think>` blocks dropped (an unclosed one runs to the end). */
export const withoutThinking = (text: string): string => text.replace(/<think>[\s\S]*?(?:<\/think>|$)/g, '').trim();

/** The chat format of a team whose tokenizer has a chat template; `slots` by slot index. */
export function chatFormat(tok: Tokenizer, slots: readonly ChatSlot[], opts: ChatOptions): ChainFormat {
  const endOfTurn = tok.eosTokenIds[0];
  if (endOfTurn === undefined) throw new Error('the tokenizer names no end-of-sequence token to close turns with');
  const turnText = (ids: number[]) => withoutThinking(tok.decode(ids, { skipSpecialTokens: true }));
  const slotOf = (slot: number) => {
    const s = slots[slot];
    if (!s) throw new Error(`slot ${slot} has no chat role (the team has ${slots.length} slots)`);
    return s;
  };
  const messages = (problem: string, earlier: { slot: number; text: string }[], slot: number): ChatMessage[] => [
    { role: 'system', content: slotOf(slot).systemPrompt },
    { role: 'user', content: problem },
    ...earlier.map(({ slot: by, text }) => ({
      role: 'user' as const,
      content: `${slotOf(by).name} (${slotOf(by).role}) wrote:\n\n${text}`,
    })),
  ];
  const render = (m: ChatMessage[]) =>
    tok.encode(tok.applyChatTemplate(m, { addGenerationPrompt: true, enableThinking: opts.enableThinking }));
  const contextIds = (t: ChainTranscript, slot: number) =>
    render(
      messages(
        tok.decode(t.promptIds, { skipSpecialTokens: true }),
        t.turns.map((u) => ({ slot: u.slot, text: turnText(u.ids) })),
        slot,
      ),
    );
  return {
    promptIds: (prompt) => tok.encode(prompt),
    contextIds,
    layout(t): TranscriptLayout {
      const seen = new Set<number>();
      const sequences: number[][] = [];
      const turns = t.turns.map((u, k) => {
        if (seen.has(u.slot)) throw new Error(`slot ${u.slot} takes two turns of one chat transcript`);
        seen.add(u.slot);
        const context = contextIds({ promptIds: t.promptIds, turns: t.turns.slice(0, k) }, u.slot);
        sequences.push([...context, ...u.ids]);
        return { sequence: k, span: [context.length, context.length + u.ids.length] as [number, number] };
      });
      return { sequences, turns };
    },
    turnIds: (text) => [...tok.encode(text), endOfTurn],
    endOfTurn,
    turnText,
    maxSequence(promptTokens, turns, turnTokens) {
      // The template's own ids around empty texts, for the slot whose framing is longest.
      const framing = Math.max(
        ...slots.map(
          (_, slot) =>
            render(
              messages(
                '',
                Array.from({ length: Math.max(0, turns - 1) }, () => ({ slot, text: '' })),
                slot,
              ),
            ).length,
        ),
      );
      return framing + promptTokens + turns * turnTokens;
    },
  };
}

/**
 * The format of a team: chat turns (`turns: chat`, or `auto` with a tokenizer that ships a chat template), else the
 * plain layout.
 */
export function teamFormat(
  tok: Tokenizer,
  team: {
    agents: readonly { name: string; role: string | null; systemPrompt: string | null }[];
    workflow: 'chain' | 'ensemble';
    turns: 'auto' | 'chat' | 'plain';
    enableThinking: boolean;
  },
): ChainFormat {
  const chat = team.turns === 'chat' || (team.turns === 'auto' && tok.hasChatTemplate);
  return chat
    ? chatFormat(tok, chatSlots(team.agents, team.workflow), { enableThinking: team.enableThinking })
    : chainFormat(tok);
}
