// `sat-peer eval --config <file> [--ckpt <stage dir>]`: the team's accuracy on the held-out set —
// greedy, avg@K, pass@K, majority vote, and each agent alone — with every sample in predictions.jsonl.
import path from 'node:path';
import { writeJsonl } from '../../tasks/dataset.ts';
import { loadConfig } from '../../config/load.ts';
import { evaluateTeam } from '../../sat/evaluate.ts';
import { releaseTeam } from '../../sat/team.ts';
import { openTeam } from '../../sat/checkpoints.ts';
import type { Command } from '../command.ts';
import { MODEL_OPTIONS, numberFlag, printConfigNotes, stringFlag, printJson } from '../options.ts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const evalCommand: Command = {
  name: 'eval',
  summary: "measure a team on the config's test set: greedy, avg@K, pass@K, majority vote, per agent",
  usage: 'sat-peer eval --config <file> [--ckpt <stage dir>] [--k K] [--limit N] [--out <file>] [--json]',
  args: [],
  options: {
    config: { type: 'string', value: '<file>', description: 'SAT config naming the agents and dataset.test_path' },
    ckpt: {
      type: 'string',
      value: '<dir>',
      description: 'a saved stage, e.g. <save_dir>/checkpoints/stage-0010 (default: the agents as configured)',
    },
    k: { type: 'string', value: '<k>', description: 'samples per problem (default evaluation.num_samples_per_agent)' },
    limit: { type: 'string', value: '<n>', description: 'only the first n test problems' },
    out: {
      type: 'string',
      value: '<file>',
      description: 'where to write the samples (default <save_dir>/predictions.jsonl)',
    },
    threads: MODEL_OPTIONS.threads,
  },
  async run({ options, json }) {
    const cfg = loadConfig(stringFlag(options, 'config', true));
    printConfigNotes(cfg.source.warnings);
    const k = numberFlag(options, 'k', cfg.evaluation.numSamplesPerAgent, { integer: true, min: 1 });
    const threads = numberFlag(options, 'threads', 0, { integer: true, min: 1 });
    const ckpt = stringFlag(options, 'ckpt');
    const { team, stage } = await openTeam(cfg, ckpt && path.resolve(ckpt), threads || undefined);
    try {
      const limit = numberFlag(options, 'limit', team.test.length, { integer: true, min: 1 });
      const problems = team.test.slice(0, limit);
      const ev = await evaluateTeam(team, problems, k, cfg.generation, cfg.seed, cfg.data.maxResponseLength);
      const out = path.resolve(stringFlag(options, 'out') ?? path.join(cfg.logging.saveDir, 'predictions.jsonl'));
      writeJsonl(out, ev.predictions);
      const { predictions: _, ...summary } = ev;
      if (json) return printJson({ stage, ...summary, predictionsFile: out });
      process.stdout.write(
        `${[
          `team ${team.runSeed} at stage ${stage} on ${ev.problems} problems, K = ${k}:`,
          `  greedy ${pct(ev.greedyAccuracy)}   avg@${k} ${pct(ev.avgAtK)}   pass@${k} ${pct(ev.passAtK)}   ` +
            `majority vote ${pct(ev.majorityVoteAccuracy)}`,
          ...ev.agents.map(
            (a) =>
              `  ${a.name} alone${team.workflow === 'chain' ? ' (every turn)' : ''}: greedy ` +
              `${pct(a.soloAccuracy)}   avg@${k} ${pct(a.avgAtK)}   pass@${k} ${pct(a.passAtK)}   majority vote ` +
              `${pct(a.majorityVoteAccuracy)}`,
          ),
          `  samples in ${out}`,
        ].join('\n')}\n`,
      );
    } finally {
      await releaseTeam(team);
    }
  },
};
