// `sat-peer train --config <file>`: runs SAT stages on a team in this process. Each stage appends one
// JSON row to <save_dir>/stage_log.jsonl and saves every agent's state; --resume continues from the last
// saved stage.
import { loadConfig } from '../../config/load.ts';
import { UsageError } from '../errors.ts';
import { evalOptions, stageEvaluation, stageRow, teamAccuracy } from '../../sat/evaluate.ts';
import { runStage } from '../../sat/stage.ts';
import {
  appendStageLog,
  latestStageFolder,
  openTeam,
  releaseTeam,
  saveStage,
  trimStageLog,
  unusedSettings,
} from '../../sat/team.ts';
import type { Command } from '../command.ts';
import { MODEL_OPTIONS, numberFlag, printConfigNotes, stringFlag, printJson } from '../options.ts';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a team with SAT stages: rollouts, ordered KL-bounded agent updates, certificates',
  usage: 'sat-peer train --config <file> [--stages N] [--resume] [--threads N] [--json]',
  args: [],
  options: {
    config: { type: 'string', value: '<file>', description: "SAT config (YAML or JSON; the reference repo's layout)" },
    stages: {
      type: 'string',
      value: '<n>',
      description: 'stages to run now (default: up to training.num_stages in all)',
    },
    resume: { type: 'boolean', description: 'continue from the last stage saved under logging.save_dir' },
    threads: MODEL_OPTIONS.threads,
  },
  async run({ options, json }) {
    const cfg = loadConfig(stringFlag(options, 'config', true));
    printConfigNotes([...cfg.source.warnings, ...unusedSettings(cfg)]);
    if (cfg.generation.topP < 1)
      process.stderr.write(
        `sat-peer: config: generation.top_p ${cfg.generation.topP} truncates sampling, and the importance ratios ` +
          `do not see the truncation; 1 keeps the updates on-policy\n`,
      );
    const threads = numberFlag(options, 'threads', 0, { integer: true, min: 1 });
    if (!options.resume && latestStageFolder(cfg)) {
      throw new UsageError(
        `${cfg.logging.saveDir} already holds a run: pass --resume to continue it or set logging.save_dir to a new folder`,
      );
    }
    const opened = await openTeam(cfg, options.resume ? latestStageFolder(cfg) : undefined, threads || undefined);
    const team = opened.team;
    try {
      const first = opened.stage + 1;
      trimStageLog(cfg, first);
      const stages = numberFlag(options, 'stages', Math.max(0, cfg.training.numStages - (first - 1)), {
        integer: true,
        min: 1,
      });
      const accuracy = () => teamAccuracy(team, team.test, cfg.data.maxResponseLength);
      const say = (line: string) => {
        if (!json) process.stdout.write(`${line}\n`);
      };
      const before = await accuracy();
      say(
        `team ${team.runSeed}: ${team.agents.length} agents, test accuracy ${(100 * before).toFixed(1)}% on ` +
          `${team.test.length} problems before stage ${first}`,
      );
      if (stages === 0)
        say(
          `nothing to run: stage ${first - 1} of training.num_stages ${cfg.training.numStages} is done (--stages N runs more)`,
        );
      say(
        `stage  order  reward  test acc  avg@${cfg.evaluation.numSamplesPerAgent}   per agent (KL quantile / beta ` +
          `/ backtracks)  bound      seconds`,
      );
      for (let stage = first; stage < first + stages; stage++) {
        const t0 = Date.now();
        const rec = await runStage(team, cfg, stage);
        const t1 = Date.now();
        const evaluation = await stageEvaluation(team, team.test, evalOptions(cfg, stage));
        rec.time.eval = Math.round(Date.now() - t1) / 1000;
        const row = stageRow(rec, evaluation, (Date.now() - t0) / 1000);
        const { testAccuracy, avgAtK } = evaluation;
        const seconds = row.seconds;
        appendStageLog(cfg, { ...row });
        saveStage(cfg, team, stage);
        if (json) printJson(row);
        const agents = rec.agents
          .map((a) =>
            a.stage0
              ? `${a.name} ball ${a.stage0.deltaFrom.toPrecision(2)}->${a.stage0.released ? 'released' : a.stage0.delta.toPrecision(2)}`
              : `${a.name} ${a.klQuantile.toExponential(1)}/${a.beta.toPrecision(3)}/${a.backtracks}`,
          )
          .join(', ');
        say(
          `${String(stage).padStart(5)}  ${rec.order.join('>').padEnd(5)}  ${rec.reward.toFixed(3)}  ` +
            `${(100 * testAccuracy).toFixed(1).padStart(7)}%  ${(100 * avgAtK).toFixed(1).padStart(5)}%  ` +
            `${agents.padEnd(42)}  ${rec.certificate.lowerBound.toExponential(2).padStart(9)}  ` +
            `${seconds.toFixed(1)}`,
        );
      }
    } finally {
      await releaseTeam(team);
    }
  },
};
