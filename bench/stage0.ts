// Stage-0's projection over a real vocabulary: `npm run bench:stage0 [-- --vocab N --states N]` prints one JSON
// line with the milliseconds a state takes in the graph (projector.ts, the states of a stage at once) and in the
// float64 definition (projection.ts, one state at a time), on random pairs of log-distributions a radius of 0.01
// apart or more. BENCH_THREADS as for bench:engine.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { stage0Project } from '../node/agent/learner/stage0/projection.ts';
import { Stage0Projector } from '../node/agent/learner/stage0/projector.ts';
import { rng } from '../node/agent/model/random.ts';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const DELTA = 0.01;

const { values } = parseArgs({ options: { vocab: { type: 'string' }, states: { type: 'string' } } });
const vocab = Number(values.vocab ?? 151_936);
const states = Number(values.states ?? 32);

const u = rng(1);
const gauss = () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
const logSoftmax = (x: Float32Array) => {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  let z = 0;
  for (const v of x) z += Math.exp(v - m);
  return x.map((v) => v - m - Math.log(z));
};
// Logits of spread 1 to 8, the incumbent's a noisy copy of the newcomer's.
const logits = Array.from({ length: states }, (_, i) => {
  const scale = 1 + (7 * i) / Math.max(1, states - 1);
  const pre = Float32Array.from({ length: vocab }, () => scale * gauss());
  return { pre, cur: pre.map((x) => x + 0.5 * scale * gauss()) };
});
const flat = (pick: (l: (typeof logits)[number]) => Float32Array) => {
  const all = new Float32Array(states * vocab);
  logits.forEach((l, i) => all.set(logSoftmax(pick(l)), i * vocab));
  return all;
};
const [logPre, logCur] = [flat((l) => l.pre), flat((l) => l.cur)];
const tokens = Array.from({ length: states }, (_, i) => i);

const projector = new Stage0Projector({ threads: THREADS });
await projector.atTokens(logPre, logCur, tokens, vocab, DELTA); // builds the session
let t0 = performance.now();
await projector.atTokens(logPre, logCur, tokens, vocab, DELTA);
const graphMs = (performance.now() - t0) / states;
await projector.release();

const sample = Math.min(states, 8);
t0 = performance.now();
for (let k = 0; k < sample; k++) {
  const { pre, cur } = logits[Math.floor((k * states) / sample)];
  stage0Project(pre, cur, DELTA);
}
const float64Ms = (performance.now() - t0) / sample;

console.log(
  JSON.stringify({
    vocab,
    states,
    graph_ms_per_state: +graphMs.toFixed(2),
    float64_ms_per_state: +float64Ms.toFixed(2),
    speedup: +(float64Ms / graphMs).toFixed(1),
    threads: THREADS,
  }),
);
