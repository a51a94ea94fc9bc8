// The SAT policy loss on the reference checkpoint: its value and metrics against the formula computed
// here from teacher-forced log-probs, and updates that move each sequence the way its advantage says.
import test from 'ava';
import { loadCheckpoint } from '../../../node/agent/model/checkpoint.ts';
import { satActorCriticLoss, satPolicyLoss } from '../../../node/agent/learner/sat-loss.ts';
import { Scorer, padBatch } from '../../../node/agent/model/score.ts';
import type { TrainBatch } from '../../../node/agent/train/batch.ts';
import { Trainer } from '../../../node/agent/train/trainer.ts';
import type { HostTensor } from '../../../node/gpu/ort.ts';

const ckpt = loadCheckpoint(new URL('../../fixtures/qwen3-tiny-a/', import.meta.url).pathname);
const lora = { kind: 'lora' as const, lora: { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] } };

// Two "trajectories": a prompt (not the agent's) then the agent's own tokens, the second row shorter.
const rows = [
  [5, 9, 14, 22, 31, 40, 41, 42, 43],
  [7, 3, 11, 19, 23, 29],
];
const promptLen = 3;
const { ids, mask, seq } = padBatch(rows);
const n = rows.length * (seq - 1);
const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
/** 1 where the next token t+1 is one of the agent's own (after the prompt, before the padding). */
const ownMask = new Float32Array(n);
rows.forEach((r, b) => ownMask.fill(1, b * (seq - 1) + promptLen - 1, b * (seq - 1) + r.length - 1));

interface Case {
  logpOld: Float32Array;
  c: Float32Array;
  adv: number[];
  eps: number;
  beta: number;
}

function batchOf(k: Case): TrainBatch {
  return {
    batch: rows.length,
    seq,
    inputIds: ids,
    attentionMask: mask,
    extra: {
      logp_old: f32([rows.length, seq - 1], k.logpOld),
      own_mask: f32([rows.length, seq - 1], ownMask),
      is_weights: f32([rows.length, seq - 1], k.c),
      advantages: f32([rows.length], Float32Array.from(k.adv)),
      clip_eps: f32([], Float32Array.of(k.eps)),
      kl_beta: f32([], Float32Array.of(k.beta)),
    },
  };
}

/** The loss of docs/design §1.8 written out in plain numbers. */
function expected(logpNew: Float32Array, k: Case): { loss: number; kl: number; ratio: number; clipFrac: number } {
  let pg = 0;
  let kl = 0;
  let tokens = 0;
  let ratio = 0;
  let clipped = 0;
  for (let b = 0; b < rows.length; b++) {
    let logR = 0;
    for (let t = 0; t < seq - 1; t++) {
      const i = b * (seq - 1) + t;
      logR += ownMask[i] * (logpNew[i] - k.logpOld[i]);
    }
    const r = Math.exp(logR);
    const rc = Math.min(Math.max(r, 1 - k.eps), 1 + k.eps);
    const surrogate = Math.min(r * k.adv[b], rc * k.adv[b]);
    ratio += r / rows.length;
    if (rc !== r) clipped += 1 / rows.length;
    for (let t = 0; t < seq - 1; t++) {
      const i = b * (seq - 1) + t;
      if (!ownMask[i]) continue;
      const d = logpNew[i] - k.logpOld[i];
      pg -= k.c[i] * surrogate;
      kl += Math.exp(d) - 1 - d;
      tokens++;
    }
  }
  return { loss: pg / tokens + (k.beta * kl) / tokens, kl: kl / tokens, ratio, clipFrac: clipped };
}

async function currentLogprobs(trainer: Trainer): Promise<Float32Array> {
  const scorer = new Scorer(ckpt, { threads: 1 }, trainer.paramSource());
  const { tokenLogprobs } = await scorer.score(rows);
  await scorer.release();
  const out = new Float32Array(n);
  tokenLogprobs.forEach((lp, b) => out.set(lp, b * (seq - 1)));
  return out;
}

test('loss, KL, ratio and clip fraction equal the formula, inside and outside the clip range', async (t) => {
  const trainer = Trainer.create(ckpt, {
    loss: satPolicyLoss,
    trainable: lora,
    optimizer: { lr: 0 },
    session: { threads: 1 },
  });
  const now = await currentLogprobs(trainer);
  // Row 0 drifted a little (ratio inside 1 +- eps), row 1 a lot (clipped); c varies per token.
  const logpOld = now.map((lp, i) => lp - (i < seq - 1 ? 0.004 : -0.1) * ownMask[i]);
  const c = Float32Array.from({ length: n }, (_, i) => 0.5 + (0.5 * ((i * 7) % 5)) / 4);
  for (const k of [
    { logpOld, c, adv: [1.5, -0.7], eps: 0.2, beta: 0.1 },
    { logpOld, c, adv: [-2, 0.9], eps: 0.05, beta: 0 },
  ]) {
    const want = expected(now, k);
    const got = await trainer.trainStep(batchOf(k));
    t.true(Math.abs(got.loss - want.loss) < 1e-5, `loss ${got.loss} vs ${want.loss}`);
    t.true(Math.abs(got.metrics.kl - want.kl) < 1e-6, `kl ${got.metrics.kl} vs ${want.kl}`);
    t.true(Math.abs(got.metrics.ratio - want.ratio) < 1e-5, `ratio ${got.metrics.ratio} vs ${want.ratio}`);
    t.is(got.metrics.clip_frac, want.clipFrac);
  }
  t.true(
    expected(now, { logpOld, c, adv: [1, 1], eps: 0.2, beta: 0 }).clipFrac === 0.5,
    'one row in, one row out of the clip range',
  );
  await trainer.release();
});

test('updates raise the log-probs of a positive-advantage sequence and lower those of a negative one', async (t) => {
  const trainer = Trainer.create(ckpt, {
    loss: satPolicyLoss,
    trainable: lora,
    optimizer: { lr: 2e-3, weightDecay: 0 },
    session: { threads: 1 },
  });
  const before = await currentLogprobs(trainer);
  const k = { logpOld: before, c: new Float32Array(n).fill(1), adv: [1, -1], eps: 0.2, beta: 0.01 };
  for (let i = 0; i < 4; i++) await trainer.trainStep(batchOf(k));
  const after = await currentLogprobs(trainer);
  const own = (lp: Float32Array, b: number) =>
    lp.slice(b * (seq - 1), (b + 1) * (seq - 1)).reduce((s, x, t) => s + x * ownMask[b * (seq - 1) + t], 0);
  t.true(own(after, 0) > own(before, 0), `row 0: ${own(before, 0)} -> ${own(after, 0)}`);
  t.true(own(after, 1) < own(before, 1), `row 1: ${own(before, 1)} -> ${own(after, 1)}`);
  await trainer.release();
});

test('the actor-critic loss adds vf_coef times the clipped value loss of the value head', async (t) => {
  const trainer = Trainer.create(ckpt, {
    loss: satActorCriticLoss,
    valueHead: true,
    trainable: lora,
    optimizer: { lr: 0 },
    session: { threads: 1 },
  });
  const now = await currentLogprobs(trainer);
  const k = { logpOld: now, c: new Float32Array(n).fill(1), adv: [0.5, -0.5], eps: 0.2, beta: 0 };
  const returns = Float32Array.from({ length: n }, (_, i) => ownMask[i] * ((i % 3) - 0.7));
  for (const [vOld, clip] of [
    [0, 1e9],
    [1, 0.2],
  ] as const) {
    const b = batchOf(k);
    b.extra = {
      ...b.extra,
      returns: f32([rows.length, seq - 1], returns),
      values_old: f32([rows.length, seq - 1], new Float32Array(n).fill(vOld)),
      vf_coef: f32([], Float32Array.of(0.3)),
      vf_clip: f32([], Float32Array.of(clip)),
    };
    // The head starts at zero, so V = 0 everywhere; the clipped V is vOld + clip(0 - vOld).
    const vc = vOld + Math.max(-clip, Math.min(clip, -vOld));
    let want = 0;
    let count = 0;
    for (let i = 0; i < n; i++)
      if (ownMask[i]) {
        want += Math.max(returns[i] ** 2, (vc - returns[i]) ** 2);
        count++;
      }
    want = (0.5 * want) / count;
    const got = await trainer.trainStep(b);
    t.true(Math.abs(got.metrics.value_loss - want) < 1e-6, `value loss ${got.metrics.value_loss} vs ${want}`);
    t.true(Math.abs(got.loss - (expected(now, k).loss + 0.3 * want)) < 1e-5);
  }
  await trainer.release();
});
