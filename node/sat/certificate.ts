// The stage certificate of docs/design §1.11 (step 4): a lower bound on the team's improvement over one
// stage, assembled from each agent's stage record. Every peer computes it from the published records:
//   sum_i gain_i - 2 gamma/(1-gamma)^2 A_max sum_i sqrt(delta_i/2) - 1/(1-gamma) sum_i zeta_i
//   - sum_i A_max/(1-gamma) sqrt(log(2n/delta_conf) / (2 N_i))
// Penalties are reported as non-negative numbers; the lower bound subtracts them from the gain.
import { InputError } from '../agent/errors.ts';

/** What one agent's update contributes to the certificate (its published stage record). */
export interface AgentStageRecord {
  /** gain_i: the importance-weighted surrogate gain of the agent's update. */
  gain: number;
  /** delta_i: the KL radius the update was accepted within. */
  delta: number;
  /** zeta_i: the bound on the sequence-aware estimator's bias. */
  zeta: number;
  /** N_i: the number of samples (states) behind the gain estimate. */
  n: number;
}

export interface CertificateInput {
  /** `algorithm.gamma`: discount, in [0, 1). */
  gamma: number;
  /** `certificate.A_max`: bound on |advantage|. */
  aMax: number;
  /** `certificate.delta_conf`: the bound holds with probability 1 - delta_conf, in (0, 1). */
  deltaConf: number;
  /** One record per agent of the stage; their count is the n of the union bound. */
  agents: readonly AgentStageRecord[];
}

export interface StageCertificate {
  /** sum_i gain_i. */
  infoGain: number;
  /** 2 gamma/(1-gamma)^2 A_max sum_i sqrt(delta_i/2). */
  occupancyShift: number;
  /** 1/(1-gamma) sum_i zeta_i. */
  estimatorBias: number;
  /** sum_i A_max/(1-gamma) sqrt(log(2n/delta_conf)/(2 N_i)). */
  finiteSample: number;
  /** infoGain - occupancyShift - estimatorBias - finiteSample. */
  lowerBound: number;
}

/**
 * Occupancy-shift penalty of one agent (docs/design §1.11, 2nd term): 2 gamma/(1-gamma)^2 A_max
 * sqrt(delta_i/2).
 */
export const occupancyShiftPenalty = (gamma: number, aMax: number, delta: number) =>
  ((2 * gamma) / (1 - gamma) ** 2) * aMax * Math.sqrt(delta / 2);

/** Estimator-bias penalty of one agent (docs/design §1.11, 3rd term): zeta_i / (1-gamma). */
export const estimatorBiasPenalty = (gamma: number, zeta: number) => zeta / (1 - gamma);

/**
 * Finite-sample penalty of one agent (docs/design §1.11, 4th term): A_max/(1-gamma)
 * sqrt(log(2n/delta_conf)/(2 N_i)).
 */
export const finiteSamplePenalty = (gamma: number, aMax: number, agents: number, deltaConf: number, samples: number) =>
  (aMax / (1 - gamma)) * Math.sqrt(Math.log((2 * agents) / deltaConf) / (2 * samples));

/**
 * Stage certificate (docs/design §1.11): lower bound = sum gain_i minus the three penalties summed over the
 * agents.
 */
export function stageCertificate(input: CertificateInput): StageCertificate {
  checkInput(input);
  const { gamma, aMax, deltaConf, agents } = input;
  const sum = (term: (a: AgentStageRecord) => number) => agents.reduce((total, a) => total + term(a), 0);
  const infoGain = sum((a) => a.gain);
  const occupancyShift = sum((a) => occupancyShiftPenalty(gamma, aMax, a.delta));
  const estimatorBias = sum((a) => estimatorBiasPenalty(gamma, a.zeta));
  const finiteSample = sum((a) => finiteSamplePenalty(gamma, aMax, agents.length, deltaConf, a.n));
  return {
    infoGain,
    occupancyShift,
    estimatorBias,
    finiteSample,
    lowerBound: infoGain - occupancyShift - estimatorBias - finiteSample,
  };
}

function checkInput({ gamma, aMax, deltaConf, agents }: CertificateInput): void {
  if (!(gamma >= 0 && gamma < 1)) throw new InputError(`gamma must lie in [0, 1) for the certificate, got ${gamma}`);
  if (!(aMax >= 0) || !Number.isFinite(aMax))
    throw new InputError(`certificate.A_max must be a finite number >= 0, got ${aMax}`);
  if (!(deltaConf > 0 && deltaConf < 1))
    throw new InputError(`certificate.delta_conf must lie in (0, 1), got ${deltaConf}`);
  agents.forEach(({ gain, delta, zeta, n }, i) => {
    if (!Number.isFinite(gain)) throw new InputError(`agent ${i}: gain must be a finite number, got ${gain}`);
    if (!(delta >= 0) || !Number.isFinite(delta))
      throw new InputError(`agent ${i}: delta must be a finite number >= 0, got ${delta}`);
    if (!(zeta >= 0) || !Number.isFinite(zeta))
      throw new InputError(`agent ${i}: zeta must be a finite number >= 0, got ${zeta}`);
    if (!Number.isInteger(n) || n < 1) {
      throw new InputError(
        `agent ${i}: N_i must be a positive sample count, got ${n}; leave out agents whose update used no samples`,
      );
    }
  });
}
