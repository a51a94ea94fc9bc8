// Chain transcripts in chat turns, with the real Qwen3 tokenizer and its chat template: each agent's context is
// the template's own rendering of its role, the problem and the attributed earlier turns; each turn is learned
// from exactly as sampled; thinking is dropped from what others read; roles default by position.
import test from 'ava';
import path from 'node:path';
import { InputError } from '../../node/agent/errors.ts';
import { loadTokenizer } from '../../node/agent/model/tokenizer.ts';
import type { ChainTranscript } from '../../node/tasks/chain.ts';
import { ROLE_PROMPTS, chatFormat, chatSlots, teamFormat, withoutThinking } from '../../node/tasks/chat-format.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const qwen = loadTokenizer(path.join(ROOT, 'test/fixtures/qwen3-tokenizer'));
const tiny = loadTokenizer(path.join(ROOT, 'test/fixtures/tiny-tokenizer'));
const IM_END = qwen.encode('<|im_end|>')[0];

const agents = [
  { name: 'ada', role: null, systemPrompt: null },
  { name: 'bo', role: 'critic', systemPrompt: null },
  { name: 'cy', role: 'judge', systemPrompt: 'Pick the best answer.' },
];
const slots = chatSlots(agents, 'chain');
const f = chatFormat(qwen, slots, { enableThinking: false });
const PROBLEM = 'What is 12 * 7?';

/** A transcript whose turns are the ids of `texts` as sampled (closed by <|im_end|>), taken by `by`. */
const transcript = (texts: string[], by: number[]): ChainTranscript => ({
  promptIds: f.promptIds(PROBLEM),
  turns: texts.map((text, k) => {
    const ids = f.turnIds(text);
    return { slot: by[k], ids, logprobs: ids.map(() => -1) };
  }),
});

test("an agent's context is the chat template's own rendering: its role, the problem, earlier turns named by who wrote them", (t) => {
  const tr = transcript(['12 * 7 = 84. \\boxed{84}', 'Checked: \\boxed{84}'], [0, 1]);
  const context = f.contextIds(tr, 2);
  const rendered = qwen.applyChatTemplate(
    [
      { role: 'system', content: 'Pick the best answer.' },
      { role: 'user', content: PROBLEM },
      { role: 'user', content: 'ada (solver) wrote:\n\n12 * 7 = 84. \\boxed{84}' },
      { role: 'user', content: 'bo (critic) wrote:\n\nChecked: \\boxed{84}' },
    ],
    { addGenerationPrompt: true, enableThinking: false },
  );
  t.deepEqual(context, qwen.encode(rendered));
  t.is(
    qwen.decode(context),
    '<|im_start|>system\nPick the best answer.<|im_end|>\n<|im_start|>user\nWhat is 12 * 7?<|im_end|>\n' +
      '<|im_start|>user\nada (solver) wrote:\n\n12 * 7 = 84. \\boxed{84}<|im_end|>\n' +
      '<|im_start|>user\nbo (critic) wrote:\n\nChecked: \\boxed{84}<|im_end|>\n' +
      '<|im_start|>assistant\n<think>\n\n</think>\n\n',
    'thinking off: the template opens the turn with an empty think block',
  );
  const first = qwen.decode(f.contextIds(transcript([], []), 0));
  t.true(first.startsWith(`<|im_start|>system\n${ROLE_PROMPTS.solver}<|im_end|>\n`));
  t.false(first.includes('wrote:'));
});

test('each turn is read after its own context and learned from exactly as it was sampled', (t) => {
  // Sampled ids need not be how the tokenizer would encode their text: they are kept as they came.
  const odd = [...qwen.encode('8'), ...qwen.encode('4'), IM_END];
  const tr = transcript(['It is 84.'], [1]);
  tr.turns.push({ slot: 0, ids: odd, logprobs: odd.map(() => -1) });
  const { sequences, turns } = f.layout(tr);
  t.is(sequences.length, 2);
  for (const [k, u] of tr.turns.entries()) {
    const [a, b] = turns[k].span;
    t.is(turns[k].sequence, k);
    t.deepEqual(sequences[k].slice(a, b), u.ids, `turn ${k}'s ids as sampled`);
    t.is(b, sequences[k].length, 'nothing after the turn');
    t.deepEqual(sequences[k].slice(0, a), f.contextIds({ ...tr, turns: tr.turns.slice(0, k) }, u.slot));
  }
  t.throws(() => f.layout(transcript(['a', 'b'], [0, 0])), { message: /slot 0 takes two turns/ });
});

test("thinking is dropped from a turn's text: what later agents read and where the verifier looks", (t) => {
  t.is(withoutThinking('<think>\nmaybe 80?\n</think>\n\nThe answer is \\boxed{84}'), 'The answer is \\boxed{84}');
  t.is(withoutThinking('<think>still thinking when the turn ran out'), '');
  const thinking = chatFormat(qwen, slots, { enableThinking: true });
  const tr = transcript(['<think>\n7 * 12 = 80 + 4\n</think>\n\n\\boxed{84}'], [0]);
  t.is(thinking.turnText(tr.turns[0].ids), '\\boxed{84}');
  const context = qwen.decode(thinking.contextIds(tr, 1));
  t.true(context.includes('ada (solver) wrote:\n\n\\boxed{84}<|im_end|>'));
  t.false(context.includes('80 + 4'));
  t.true(context.endsWith('<|im_start|>assistant\n'), 'thinking on: the model opens its own think block');
});

test('roles default by position in the chain (solver, critics, finalizer) and to solver in the ensemble', (t) => {
  const four = Array.from({ length: 4 }, (_, i) => ({ name: `a${i}`, role: null, systemPrompt: null }));
  t.deepEqual(
    chatSlots(four, 'chain').map((s) => s.role),
    ['solver', 'critic', 'critic', 'finalizer'],
  );
  t.deepEqual(
    chatSlots(four, 'ensemble').map((s) => s.role),
    ['solver', 'solver', 'solver', 'solver'],
  );
  t.is(slots[1].systemPrompt, ROLE_PROMPTS.critic);
  const err = t.throws(() => chatSlots([{ name: 'x', role: 'judge', systemPrompt: null }], 'chain'), {
    instanceOf: InputError,
  });
  t.regex(err.message, /sat\.agents\[0\]\.role 'judge' has no built-in prompt: give sat\.agents\[0\]\.system_prompt/);
  t.throws(() => f.contextIds(transcript([], []), 5), { message: /slot 5 has no chat role/ });
});

test('a team reads chat turns where its tokenizer ships a template (or turns: chat), the plain layout otherwise', (t) => {
  const team = (turns: 'auto' | 'chat' | 'plain') => ({
    agents,
    workflow: 'chain' as const,
    turns,
    enableThinking: false,
  });
  const tr = transcript(['x'], [0]);
  const chatContext = teamFormat(qwen, team('auto')).contextIds(tr, 1);
  t.true(qwen.decode(chatContext).includes('<|im_start|>system'));
  t.deepEqual(teamFormat(qwen, team('plain')).contextIds(tr, 1), [
    ...tr.promptIds,
    ...tr.turns[0].ids,
    ...qwen.encode('\n'),
  ]);
  t.false(tiny.hasChatTemplate);
  const tinyPlain = teamFormat(tiny, team('auto'));
  t.is(tiny.decode(tinyPlain.promptIds('2+3')), '2+3\n');
  const tinyChat = teamFormat(tiny, team('chat'));
  t.true(
    tiny
      .decode(tinyChat.contextIds({ promptIds: tinyChat.promptIds('2+3'), turns: [] }, 0))
      .startsWith('<|im_start|>system\n'),
  );
});

test('maxSequence bounds every sequence of a transcript of full-length turns', (t) => {
  const long = 'seven times twelve is eighty-four '.repeat(6).trim();
  const tr = transcript([long, long, long], [0, 1, 2]);
  const turnTokens = Math.max(...tr.turns.map((u) => u.ids.length));
  const bound = f.maxSequence(tr.promptIds.length, 3, turnTokens);
  const { sequences } = f.layout(tr);
  t.true(Math.max(...sequences.map((s) => s.length)) <= bound, `${sequences.map((s) => s.length)} <= ${bound}`);
  t.true(bound - sequences[2].length < 64, `and not by much: ${bound} vs ${sequences[2].length}`);
});
