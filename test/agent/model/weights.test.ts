// LoRA configs are checked before any graph is built: rank, alpha and targets, against the checkpoint.
import test from 'ava';
import { loadCheckpoint, type Checkpoint } from '../../../node/agent/model/checkpoint.ts';
import { sftLoss } from '../../../node/agent/train/losses.ts';
import { Trainer } from '../../../node/agent/train/trainer.ts';
import { type LoraConfig, LORA_TARGETS, bindWeights, validateLora } from '../../../node/agent/model/weights.ts';
import { Graph } from '../../../node/gpu/graph.ts';

const DIR = new URL('../../fixtures/qwen3-tiny-a/', import.meta.url).pathname;
const ckpt = loadCheckpoint(DIR);
const lora = (over: Partial<LoraConfig>): LoraConfig => ({ rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'], ...over });
/** A target error: `head` (a regex source), then the list of supported targets. */
const targetError = (head: string) =>
  new RegExp(`^${head}; supported targets: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj$`);

test('every supported target is accepted', (t) => {
  t.notThrows(() => validateLora(ckpt, lora({ targets: [...LORA_TARGETS] })));
  t.notThrows(() => validateLora(ckpt, lora({ rank: 1, alpha: 0.5, targets: ['down_proj'] })));
});

const errors: [string, LoraConfig, RegExp][] = [
  ['zero rank', lora({ rank: 0 }), /^LoRA rank must be a positive integer, got 0$/],
  ['fractional rank', lora({ rank: 1.5 }), /^LoRA rank must be a positive integer, got 1\.5$/],
  ['zero alpha', lora({ alpha: 0 }), /^LoRA alpha must be a positive finite number, got 0$/],
  ['infinite alpha', lora({ alpha: Infinity }), /^LoRA alpha must be a positive finite number, got null$/],
  ['NaN alpha', lora({ alpha: NaN }), /^LoRA alpha must be a positive finite number/],
  ['no targets', lora({ targets: [] }), targetError('LoRA targets must be a non-empty list of module names')],
  ['typo', lora({ targets: ['q_proj', 'qproj'] }), targetError('unknown LoRA target "qproj"')],
  [
    'lm_head',
    lora({ targets: ['lm_head'] }),
    targetError("LoRA target 'lm_head' is not a linear layer adapters attach to"),
  ],
  [
    'embed_tokens',
    lora({ targets: ['embed_tokens'] }),
    targetError("LoRA target 'embed_tokens' is not a linear layer adapters attach to"),
  ],
  [
    'a norm',
    lora({ targets: ['input_layernorm'] }),
    targetError("LoRA target 'input_layernorm' is not a linear layer adapters attach to"),
  ],
  [
    'a head norm',
    lora({ targets: ['q_norm'] }),
    targetError("LoRA target 'q_norm' is not a linear layer adapters attach to"),
  ],
];

for (const [what, config, message] of errors) {
  test(`error: ${what}`, (t) => {
    const err = t.throws(() => validateLora(ckpt, config), { name: 'InputError', message })!;
    t.false(err.message.includes('\n'));
  });
}

test('error: a target with no 2-D weight in the checkpoint', (t) => {
  const tensors = new Map([...ckpt.tensors].filter(([n]) => !n.endsWith('.k_proj.weight')));
  const partial: Checkpoint = { ...ckpt, tensors };
  t.throws(() => validateLora(partial, lora({ targets: ['k_proj'] })), {
    name: 'InputError',
    message: targetError("LoRA target 'k_proj' matches no 2-D linear weight of .*qwen3-tiny-a"),
  });
});

test('bindWeights refuses a bad LoRA config before building anything', (t) => {
  const g = new Graph('bind');
  t.throws(() => bindWeights(g, ckpt, new Set(), lora({ targets: ['lm_head'] })), {
    name: 'InputError',
    message: /'lm_head' is not a linear layer/,
  });
  t.throws(() => bindWeights(g, ckpt, new Set(), lora({ rank: -2 })), {
    name: 'InputError',
    message: /rank must be a positive integer, got -2/,
  });
});

test('a trainer with an unsupported target is refused when it is created, not trained without it', (t) => {
  const create = () =>
    Trainer.create(ckpt, {
      loss: sftLoss,
      trainable: { kind: 'lora', lora: lora({ targets: ['q_proj', 'lm_head'] }) },
      session: { threads: 1 },
    });
  t.throws(create, { name: 'InputError', message: /LoRA target 'lm_head'/ });
});
