import test from 'ava';
import { loadCheckpoint } from '../../../node/agent/model/checkpoint.ts';
import {
  BENCH_CONFIG,
  QWEN3_SHAPES,
  shapeParameters,
  toBfloat16,
  writeRandomCheckpoint,
} from '../../../node/agent/model/random-checkpoint.ts';
import { Scorer } from '../../../node/agent/model/score.ts';
import { readTensor, toFloat32 } from '../../../node/gpu/safetensors.ts';
import { tempDir } from '../../temp-dir.ts';

/** The bench shape with a vocabulary large enough that the embedding spans several written chunks. */
const SHAPE = { ...BENCH_CONFIG, vocabSize: 9000, numLayers: 2, tieWordEmbeddings: true };

test('bfloat16 rounds to nearest, ties to even, as PyTorch does', (t) => {
  const words = (xs: number[]) => [...toBfloat16(Float32Array.from(xs))];
  // 1 and -2 are exact; 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and goes to the even one (1);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6 and goes to the even one (1 + 2^-6).
  t.deepEqual(
    words([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20]),
    [0x3f80, 0xc000, 0x3f80, 0x3f82, 0x3f81],
  );
});

test('a random checkpoint in bfloat16 holds the float32 one rounded, tensor by tensor, across written chunks', (t) => {
  const [f32, bf16] = [tempDir('sat-rand-f32-'), tempDir('sat-rand-bf16-')];
  writeRandomCheckpoint(f32, SHAPE, { dtype: 'float32', seed: 5 });
  let calls = 0;
  writeRandomCheckpoint(bf16, SHAPE, { dtype: 'bfloat16', seed: 5, progress: () => calls++ });
  const [a, b] = [loadCheckpoint(f32), loadCheckpoint(bf16)];
  t.true(calls > a.tensors.size, `${calls} progress calls`);
  t.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
  t.false(a.tensors.has('lm_head.weight'), 'tied embeddings write no head');
  for (const [name, info] of a.tensors) {
    const want = toBfloat16(toFloat32(readTensor(info)));
    const got = readTensor(b.tensors.get(name)!);
    t.is(got.dtype, 'bfloat16', name);
    t.deepEqual(got.shape, info.shape, name);
    t.true(
      want.every((w, i) => w === (got.data as Uint16Array)[i]),
      name,
    );
  }
  t.is(b.config.tieWordEmbeddings, true);
});

test('a bfloat16 random checkpoint runs, and scores as its float32 twin within bfloat16 rounding', async (t) => {
  const [f32, bf16] = [tempDir('sat-rand-run-f32-'), tempDir('sat-rand-run-bf16-')];
  writeRandomCheckpoint(f32, SHAPE, { dtype: 'float32', seed: 2 });
  writeRandomCheckpoint(bf16, SHAPE, { dtype: 'bfloat16', seed: 2 });
  const rows = [[5, 17, 4000, 8999, 3]];
  const score = async (dir: string) => {
    const scorer = new Scorer(loadCheckpoint(dir), { threads: 1 });
    try {
      return (await scorer.score(rows)).tokenLogprobs[0];
    } finally {
      await scorer.release();
    }
  };
  const [a, b] = [await score(f32), await score(bf16)];
  t.is(b.length, 4);
  t.true(b.every((x) => Number.isFinite(x) && x < 0));
  t.true(
    b.every((x, i) => Math.abs(x - a[i]) < 0.05),
    `${[...b]} vs ${[...a]}`,
  );
});

test('the published shapes have the published sizes (model cards: 0.44B, 1.4B, 3.6B, 6.95B without embeddings)', (t) => {
  const billions = (x: number) => Math.round(x / 1e7) / 100;
  const sizes = Object.fromEntries(
    Object.entries(QWEN3_SHAPES).map(([name, c]) => {
      const embeddings = c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2);
      return [name, [billions(shapeParameters(c)), billions(shapeParameters(c) - embeddings)]];
    }),
  );
  t.deepEqual(sizes, {
    'qwen3-0.6b': [0.6, 0.44],
    'qwen3-1.7b': [1.72, 1.41],
    'qwen3-4b': [4.02, 3.63],
    'qwen3-8b': [8.19, 6.95],
  });
});
