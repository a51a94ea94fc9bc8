// `sat-peer train --config <file>`: runs SAT stages on a team in this process. Each stage appends one
// JSON row to <save_dir>/stage_log.jsonl and saves every agent's state; --resume continues from the last
// saved stage.
import { loadConfig } from '../../config/load.ts';
import { UsageError } from '../errors.ts';
import {
  type LoggedStage,
  type StageLoop,
  greedyAccuracy,
  resumeEvaluation,
  runStages,
  unloggedStage,
} from '../../sat/stage-loop.ts';
import { releaseTeam, unusedSettings } from '../../sat/team.ts';
import { latestStageFolder, openTeam } from '../../sat/checkpoints.ts';
import type { Command } from '../command.ts';
import { MODEL_OPTIONS, numberFlag, printConfigNotes, stringFlag, printJson } from '../options.ts';
import { stageHeader, stageLine } from '../stage-line.ts';
import { weightsProgress } from '../weights-progress.ts';

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
      for (const agent of team.agents) await agent.loadWeights(weightsProgress(agent.name));
      const first = opened.stage + 1;
      const unlogged = unloggedStage(cfg, opened.stage);
      const stages = numberFlag(options, 'stages', Math.max(0, cfg.training.numStages - (first - 1)), {
        integer: true,
        min: 1,
      });
      const say = (line: string) => {
        if (!json) process.stdout.write(`${line}\n`);
      };
      const loop: StageLoop = { cfg, team, test: team.test };
      // Killed during its evaluation, the last stage was saved but never logged: its row is made first. The output
      // lists the stages this run makes.
      if (unlogged) {
        process.stderr.write(
          `sat-peer: stage ${opened.stage} was saved but its evaluation was cut short: evaluating it again\n`,
        );
        await resumeEvaluation(loop, unlogged);
      }
      const before = await greedyAccuracy(loop, first);
      say(
        `team ${team.runSeed}: ${team.agents.length} agents, test accuracy ${(100 * before).toFixed(1)}% on ` +
          `${team.test.length} problems before stage ${first}`,
      );
      if (stages === 0)
        say(
          `nothing to run: stage ${first - 1} of training.num_stages ${cfg.training.numStages} is done (--stages N runs more)`,
        );
      say(stageHeader(cfg.evaluation.numSamplesPerAgent));
      const onStage = ({ row }: LoggedStage) => (json ? printJson(row) : say(stageLine(row)));
      await runStages({ ...loop, onStage }, first, first + stages - 1);
    } finally {
      await releaseTeam(team);
    }
  },
};
