// The stage certificate on hand-computed cases, and its refusal of malformed records.
import test from 'ava';
import {
  estimatorBiasPenalty,
  finiteSamplePenalty,
  occupancyShiftPenalty,
  stageCertificate,
} from '../../node/sat/certificate.ts';
import { InputError } from '../../node/agent/errors.ts';

const near = (a: number, b: number) => Math.abs(a - b) <= 1e-12;

test('two agents, by hand', (t) => {
  const cert = stageCertificate({
    gamma: 0.5,
    aMax: 1,
    deltaConf: 0.1,
    agents: [
      { gain: 0.5, delta: 0.02, zeta: 0.01, n: 1000 },
      { gain: 0.3, delta: 0.08, zeta: 0, n: 400 },
    ],
  });
  // 2 * 0.5 / 0.25 = 4; sqrt(0.01) + sqrt(0.04) = 0.3.
  t.true(near(cert.infoGain, 0.8));
  t.true(near(cert.occupancyShift, 1.2), `${cert.occupancyShift}`);
  // (0.01 + 0) / 0.5.
  t.true(near(cert.estimatorBias, 0.02));
  // 1/0.5 * (sqrt(log(40) / 2000) + sqrt(log(40) / 800)), python: 0.22170403324340948.
  t.true(near(cert.finiteSample, 0.22170403324340948));
  t.true(near(cert.lowerBound, -0.6417040332434094));
});

test('the per-agent terms are the formulas of docs/design §1.11', (t) => {
  t.true(near(occupancyShiftPenalty(0.9, 2, 0.5), ((2 * 0.9) / 0.01) * 2 * 0.5));
  t.true(near(estimatorBiasPenalty(0.9, 0.3), 3));
  // One agent (n = 1), delta_conf 0.05, N = 100: 1/0.5 * sqrt(log(40) / 200) = 0.2716203031481239.
  t.true(near(finiteSamplePenalty(0.5, 1, 1, 0.05, 100), 0.2716203031481239));
});

test('with gamma = 0 and no KL movement only the gain, bias and sampling terms remain', (t) => {
  const cert = stageCertificate({
    gamma: 0,
    aMax: 1,
    deltaConf: 0.5,
    agents: [{ gain: 1, delta: 0, zeta: 0.25, n: 8 }],
  });
  t.is(cert.occupancyShift, 0);
  t.true(near(cert.finiteSample, Math.sqrt(Math.log(4) / 16)));
  t.true(near(cert.lowerBound, 1 - 0.25 - Math.sqrt(Math.log(4) / 16)));
});

test('a stage with no agents certifies nothing', (t) => {
  t.deepEqual(stageCertificate({ gamma: 0.9, aMax: 1, deltaConf: 0.1, agents: [] }), {
    infoGain: 0,
    occupancyShift: 0,
    estimatorBias: 0,
    finiteSample: 0,
    lowerBound: 0,
  });
});

test('malformed inputs are refused with one actionable line', (t) => {
  const ok = { gamma: 0.9, aMax: 1, deltaConf: 0.1, agents: [{ gain: 0.1, delta: 0.01, zeta: 0, n: 10 }] };
  const agent = (patch: object) => ({ ...ok, agents: [{ ...ok.agents[0]!, ...patch }] });
  t.throws(() => stageCertificate({ ...ok, gamma: 1 }), { instanceOf: InputError, message: /gamma/ });
  t.throws(() => stageCertificate({ ...ok, aMax: -1 }), { instanceOf: InputError, message: /A_max/ });
  t.throws(() => stageCertificate({ ...ok, deltaConf: 0 }), { instanceOf: InputError, message: /delta_conf/ });
  t.throws(() => stageCertificate(agent({ delta: -0.1 })), { instanceOf: InputError, message: /agent 0: delta/ });
  t.throws(() => stageCertificate(agent({ zeta: NaN })), { instanceOf: InputError, message: /agent 0: zeta/ });
  t.throws(() => stageCertificate(agent({ gain: Infinity })), { instanceOf: InputError, message: /agent 0: gain/ });
  t.throws(() => stageCertificate(agent({ n: 0 })), { instanceOf: InputError, message: /agent 0: N_i/ });
  t.throws(() => stageCertificate(agent({ n: 2.5 })), { instanceOf: InputError, message: /agent 0: N_i/ });
});
