// How many of a stage's rollouts a peer generates, scores and trains on at once, as its memory allows, and the memory
// that plan needs.
import fs from 'node:fs';
import { loadCheckpoint } from '../agent/model/checkpoint.ts';
import { memoryNeed, microBatchFor } from '../agent/memory-plan.ts';
import type { SatConfig } from '../config/load.ts';
import { availableMemory, gpuMemory } from '../gpu/device-memory.ts';
import type { ChainFormat } from '../tasks/chain.ts';
import type { Problem } from '../tasks/dataset.ts';
import type { PeerInit } from './peer.ts';

/** The share of the available memory a peer plans to use (the estimate is approximate). */
const MEMORY_SHARE = 0.9;

/** How a peer takes its stage: rollouts scored and trained on at once (0: all), and the memory that needs. */
export interface StagePlan {
  microBatch: number;
  plannedBytes: number;
}

/**
 * The micro-batch (rollouts scored and trained on at once) this machine's memory allows for the team's stage (0
 * when all of them fit, or as `--micro-batch` sets it), and the memory planned for it. Refuses, before joining, a
 * model that does not fit even one at a time.
 */
export function stagePlan(
  cfg: SatConfig,
  init: PeerInit,
  train: readonly Problem[],
  f: ChainFormat,
  slots: number,
  log: (line: string) => void,
): StagePlan {
  const rows = Math.min(cfg.data.trainBatchSize, train.length) * cfg.sat.groupSize;
  const prompt = Math.min(
    cfg.data.maxPromptLength,
    Math.max(...train.slice(0, 1000).map((p) => f.promptIds(p.prompt).length)),
  );
  const gpu = init.device === 'cuda';
  const ckpt = loadCheckpoint(init.model);
  // A newcomer decodes and scores beside the incumbent it takes over from (its own shape where that is not here).
  const incumbentDir =
    init.upgradeAt !== undefined && init.slot !== undefined ? cfg.sat.agents[init.slot]?.path : undefined;
  const incumbent = incumbentDir && fs.existsSync(incumbentDir) ? loadCheckpoint(incumbentDir) : ckpt;
  const planned = {
    model: init.model,
    lora: cfg.training.lora !== null && cfg.training.lora !== undefined,
    rows,
    tokens: f.maxSequence(prompt, cfg.team.workflow === 'chain' ? slots : 1, cfg.data.maxResponseLength),
    own: cfg.data.maxResponseLength,
    gpu,
    ...(init.memory !== undefined ? { given: true } : {}),
    ...(incumbentDir !== undefined ? { incumbent } : {}),
  };
  const plan = (microBatch: number) => ({
    microBatch,
    plannedBytes: memoryNeed(ckpt, { ...planned, rows: microBatch || rows }).total,
  });
  if (init.microBatch !== undefined) return plan(init.microBatch);
  const free = init.memory === undefined ? (gpu ? gpuMemory() : availableMemory()) : undefined;
  if (init.memory === undefined && free === undefined) {
    log(
      "the GPU's free memory cannot be read (nvidia-smi): taking the stage's rollouts at once (--micro-batch N or " +
        '--memory GiB sets how many)',
    );
    return plan(0);
  }
  const budget = init.memory ?? MEMORY_SHARE * free!;
  const fit = microBatchFor(ckpt, planned, budget);
  if (fit >= rows) return plan(0);
  const of =
    init.memory !== undefined
      ? `the ${(budget / 2 ** 30).toFixed(1)} GiB --memory gives it`
      : `the ${gpu ? 'GPU' : 'machine'}'s memory (${(free! / 2 ** 30).toFixed(1)} GiB available)`;
  log(`the stage's ${rows} rollouts do not fit ${of} at once: generating, scoring and training on ${fit} at a time`);
  return plan(fit);
}
