// Frozen parameters: a copy that later training does not touch, written and read back exactly.
import test from 'ava';
import path from 'node:path';
import { freezeParams, loadParams, saveParams } from '../../../node/agent/model/frozen-params.ts';
import type { ParamSource } from '../../../node/agent/model/weights.ts';
import { tempDir } from '../../temp-dir.ts';

const live = new Map([
  ['model.layers.0.mlp.up_proj.weight', { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] }],
  ['value_head.weight', { data: Float32Array.of(7, 8), shape: [1, 2] }],
  ['value_head.bias', { data: Float32Array.of(9), shape: [1] }],
]);
const src: ParamSource = { trainable: new Set(['model.layers.0.mlp.up_proj.weight']), current: () => live };

test('a frozen copy keeps its values when the source trains on, and leaves the value head out', (t) => {
  const frozen = freezeParams(src);
  live.get('model.layers.0.mlp.up_proj.weight')!.data[0] = 100;
  t.deepEqual([...frozen.current().keys()], ['model.layers.0.mlp.up_proj.weight']);
  t.deepEqual(Array.from(frozen.current().get('model.layers.0.mlp.up_proj.weight')!.data), [1, 2, 3, 4, 5, 6]);
  t.deepEqual([...frozen.trainable], ['model.layers.0.mlp.up_proj.weight']);
  live.get('model.layers.0.mlp.up_proj.weight')!.data[0] = 1;
});

test('saved and loaded back: the same tensors; with LoRA the tensors are factors, not HF weights', (t) => {
  const file = path.join(tempDir('frozen-'), 'p.safetensors');
  saveParams(file, freezeParams(src));
  const back = loadParams(file);
  t.deepEqual(back.current().get('model.layers.0.mlp.up_proj.weight'), {
    data: Float32Array.of(1, 2, 3, 4, 5, 6),
    shape: [2, 3],
  });
  t.deepEqual([...back.trainable], ['model.layers.0.mlp.up_proj.weight']);
  const lora = { rank: 2, alpha: 4, targets: ['up_proj'] };
  const asLora = loadParams(file, lora);
  t.is(asLora.trainable.size, 0);
  t.deepEqual(asLora.lora, lora);
});
