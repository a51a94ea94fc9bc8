// `sat-peer upgrade --config <file> --slot <name> --model <dir>`: plug-and-play Stage-0. A stronger model
// takes over one slot through the per-state KL projection onto the ball of radius delta_0 around the
// incumbent (the slot's agent as the run's latest stage left it, or --ckpt); the other agents are
// untouched. Prints the team's held-out accuracy before and after the swap, and saves the swap as the
// run's next stage, so `sat-peer train --resume` goes on with the newcomer, relaxing its ball.
import path from 'node:path';
import { InputError } from '../../agent/errors.ts';
import { loadTokenizer } from '../../agent/model/tokenizer.ts';
import { loadConfig } from '../../config/load.ts';
import { UsageError } from '../errors.ts';
import { teamAccuracy } from '../../sat/evaluate.ts';
import { releaseTeam, upgradeSlot } from '../../sat/team.ts';
import { latestStageFolder, openTeam, saveStage } from '../../sat/checkpoints.ts';
import { appendStageLog, trimStageLog } from '../../sat/stage-log.ts';
import type { Command } from '../command.ts';
import { MODEL_OPTIONS, numberFlag, printConfigNotes, stringFlag, printJson } from '../options.ts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const upgradeCommand: Command = {
  name: 'upgrade',
  summary:
    'swap a stronger model into one slot through the Stage-0 KL projection; the rest of the team stays as trained',
  usage:
    'sat-peer upgrade --config <file> --slot <name> [--model <dir>] [--delta0 X] [--ckpt <stage dir>] [--limit N] [--dry-run] [--json]',
  args: [],
  options: {
    config: { type: 'string', value: '<file>', description: 'the SAT config of the team' },
    slot: {
      type: 'string',
      value: '<name>',
      description: 'the agent to replace (its name in sat.agents, or its index from 0)',
    },
    model: {
      type: 'string',
      value: '<dir>',
      description: "the newcomer's checkpoint folder (default: the slot's sat.agents[].upgrade)",
    },
    delta0: {
      type: 'string',
      value: '<x>',
      description: 'radius of the KL ball around the incumbent (default sat.stage0_delta)',
    },
    ckpt: {
      type: 'string',
      value: '<dir>',
      description: "the team's saved stage to start from (default: the run's latest, else the configured agents)",
    },
    limit: { type: 'string', value: '<n>', description: 'measure on the first n test problems only' },
    'dry-run': { type: 'boolean', description: 'only measure the swap; save nothing into the run' },
    threads: MODEL_OPTIONS.threads,
  },
  async run({ options, json }) {
    const cfg = loadConfig(stringFlag(options, 'config', true));
    printConfigNotes(cfg.source.warnings);
    const which = stringFlag(options, 'slot', true);
    const slot = cfg.sat.agents.findIndex((a, i) => a.name === which || String(i) === which);
    if (slot < 0)
      throw new InputError(
        `no slot '${which}': the team's agents are ${cfg.sat.agents.map((a, i) => `${i} ${a.name}`).join(', ')}`,
      );
    const model = stringFlag(options, 'model') ?? cfg.sat.agents[slot].upgrade;
    if (!model)
      throw new InputError(`give --model <dir>: sat.agents[${slot}] (${cfg.sat.agents[slot].name}) names no upgrade`);
    const delta0 = numberFlag(options, 'delta0', cfg.sat.stage0Delta, { above: 0 });
    const threads = numberFlag(options, 'threads', 0, { integer: true, min: 1 }) || undefined;
    const dryRun = options['dry-run'] === true;
    const latest = latestStageFolder(cfg);
    const ckpt = stringFlag(options, 'ckpt');
    const from = ckpt ? path.resolve(ckpt) : latest;
    if (!dryRun && from !== latest) {
      throw new UsageError(
        `${from} is not the run's latest stage (${latest ?? 'none saved'}): a swap saved from it would fork the ` +
          `run; add --dry-run to only measure it`,
      );
    }
    // The tokenizers must match before any weights load (a team's agents share one, upgraded or not).
    if (loadTokenizer(model).hash !== loadTokenizer(cfg.sat.agents[slot].path).hash) {
      throw new InputError(
        `${model} has another tokenizer than slot '${cfg.sat.agents[slot].name}' (${cfg.sat.agents[slot].path}): ` +
          `Stage-0 mixes the two models token by token, so they must share one tokenizer.json`,
      );
    }
    const { team, stage } = await openTeam(cfg, from, threads);
    try {
      const incumbent = team.agents[slot];
      const limit = numberFlag(options, 'limit', team.test.length, { integer: true, min: 1 });
      const problems = team.test.slice(0, limit);
      const before = await teamAccuracy(team, problems, cfg.data.maxResponseLength);
      await upgradeSlot(cfg, team, slot, path.resolve(model), delta0, threads);
      const after = await teamAccuracy(team, problems, cfg.data.maxResponseLength);
      const result = {
        stage,
        slot: incumbent.name,
        model: path.resolve(model),
        delta0,
        problems: problems.length,
        accuracyBefore: before,
        accuracyAfter: after,
        savedStage: dryRun ? null : stage + 1,
      };
      if (!dryRun) {
        saveStage(cfg, team, stage + 1);
        trimStageLog(cfg, stage + 1); // a row of a stage logged but never saved gives way
        appendStageLog(cfg, { stage: stage + 1, upgrade: result });
      }
      if (json) return printJson(result);
      process.stdout.write(
        `slot ${result.slot} -> ${result.model} through Stage-0 (delta_0 ${delta0}), team at stage ${stage}, other agents untouched:\n`,
      );
      process.stdout.write(
        `  greedy team accuracy on ${problems.length} held-out problems: ${pct(before)} before, ${pct(after)} after\n`,
      );
      process.stdout.write(
        dryRun
          ? '  dry run: nothing saved\n'
          : `  saved as stage ${stage + 1} in ${path.join(cfg.logging.saveDir, 'checkpoints')}; ` +
              '`sat-peer train --config <file> --resume --stages N` trains on, relaxing the ball stage by stage\n',
      );
    } finally {
      await releaseTeam(team);
    }
  },
};
