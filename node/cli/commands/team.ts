// `sat-peer team create --config <file> --out <team file>` writes a team's manifest from a SAT config
// (`--check`: validates it and prints the team without writing it); `sat-peer team show <team file>`
// prints it with its team id.
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../agent/errors.ts';
import { progressBar, resolveModel } from '../../agent/hub/hub.ts';
import { parseModelSpec } from '../../agent/hub/model-names.ts';
import { type SatConfig, loadConfig } from '../../config/load.ts';
import { manifestFromConfig, readTeamFile, teamOf, writeTeamFile } from '../../peer/manifest.ts';
import { LIMITS } from '../../protocol/codec.ts';
import { loadDataset } from '../../tasks/dataset.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { numberFlag, stringFlag, printJson } from '../options.ts';
import { teamLines, teamSummary } from '../team-summary.ts';

export const teamCreateCommand: Command = {
  name: 'team create',
  summary: 'write a team file (the manifest peers join with) from a SAT config',
  usage:
    'sat-peer team create --config <file> --out <team file> [--name <name>] [--slots N] [--seed N] [--allow <peer id>]... ' +
    '[--no-upgrades] [--offline] [--check]',
  args: [],
  options: {
    config: {
      type: 'string',
      value: '<file>',
      description: 'the SAT config: slots (sat.agents), workflow, algorithm, dataset; every key must be known',
    },
    out: {
      type: 'string',
      value: '<file>',
      description: "where to write the team file (YAML); its paths are relative to this file's folder",
    },
    name: { type: 'string', value: '<name>', description: "the team's name (default: the config file's)" },
    slots: {
      type: 'string',
      value: '<n>',
      description:
        "the number of slots: the config's first agents, or all of them and copies of the last (default: the config's agents)",
    },
    seed: {
      type: 'string',
      value: '<n>',
      description: "the team's seed: its prompts, samples and block orders (default: the config's seed)",
    },
    allow: {
      type: 'string',
      multiple: true,
      value: '<peer id>',
      description:
        'admit only these peers (as sat-peer start prints their ids); repeat for more (default: an open team)',
    },
    'no-upgrades': { type: 'boolean', description: 'refuse newcomers that claim a held slot with a stronger model' },
    offline: {
      type: 'boolean',
      description: "take the slots' hub models (e.g. Qwen/Qwen3-0.6B) from the Hugging Face cache only, never download",
    },
    check: {
      type: 'boolean',
      description:
        'check the config, its data sets and models, and print the team it makes without writing it ' +
        "(without --out: as a team file in the config's folder)",
    },
  },
  async run({ options, json }) {
    const check = options.check === true;
    const out = check ? stringFlag(options, 'out') : stringFlag(options, 'out', true);
    const name = stringFlag(options, 'name');
    const slots =
      options.slots === undefined
        ? undefined
        : numberFlag(options, 'slots', 0, { integer: true, min: 1, max: LIMITS.slots });
    const seed = options.seed === undefined ? undefined : numberFlag(options, 'seed', 0, { integer: true, min: 0 });
    const allow = options.allow === undefined ? [] : [options.allow].flat().map(String);
    const config = stringFlag(options, 'config', true);
    if (out !== undefined) checkOut(out, config);
    const modelDirs = await slotModels(loadConfig(config, { unknownKeys: 'error' }), config, options.offline === true);
    const m = manifestFromConfig(config, {
      modelDirs,
      ...(name ? { name } : {}),
      ...(slots ? { slots } : {}),
      ...(seed === undefined ? {} : { seed }),
      ...(allow.length ? { allow } : {}),
      upgrades: !options['no-upgrades'],
      ...(out ? { teamDir: path.dirname(path.resolve(out)) } : {}),
    });
    // The team as a peer reads it back; its data sets read as a stage reads them.
    const team = teamOf(m, out ?? path.join(path.dirname(path.resolve(config)), 'team.yaml'));
    await loadDataset(team.cfg.dataset.trainPath!, team.cfg.dataset.type);
    if (team.cfg.dataset.testPath) await loadDataset(team.cfg.dataset.testPath, team.cfg.dataset.type);
    if (check) {
      const summary = teamSummary(team);
      if (json) return printJson({ ...summary, file: out ?? null, written: false });
      const then = out ? `team create without --check writes it to ${out}` : 'give --out to write it';
      return void process.stdout.write(`${[...teamLines(summary), `  not written (--check): ${then}`].join('\n')}\n`);
    }
    const id = writeTeamFile(out!, m);
    process.stdout.write(
      json
        ? `${JSON.stringify({ id, file: out, slots: m.slots.length })}\n`
        : `team ${id} (${m.slots.length} slots) written to ${out}\n`,
    );
  },
};

/** What `file` is; undefined when nothing is there (or a file stands where a folder of its path should). */
function statOf(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

/** `file`'s real path: its folder's, links resolved, where the file is not there yet. */
function realPath(file: string): string {
  const abs = path.resolve(file);
  try {
    return fs.realpathSync(abs);
  } catch {
    const dir = path.dirname(abs);
    return dir === abs ? abs : path.join(realPath(dir), path.basename(abs));
  }
}

/** Refuses an `--out` that names a folder, lies under a file, or is the config itself (writing would overwrite it). */
function checkOut(out: string, config: string): void {
  // The nearest of its folders that exists must be a folder: a file there makes every write fail (ENOTDIR).
  for (let dir = path.dirname(path.resolve(out)); ; dir = path.dirname(dir)) {
    const st = statOf(dir);
    if (st && !st.isDirectory())
      throw new UsageError(`--out ${out} lies under ${dir}, which is a file: give a file name in a folder`);
    if (st || dir === path.dirname(dir)) break;
  }
  if (/[/\\]$/.test(out) || statOf(out)?.isDirectory())
    throw new UsageError(`--out names a folder: give a file name, e.g. ${path.join(out, 'team.yaml')}`);
  if (realPath(out) === realPath(config))
    throw new UsageError(
      `--out ${out} is the config itself: writing the team file there would overwrite it; give another file name`,
    );
}

/**
 * The local folders of the slots' hub models (Qwen/Qwen3-0.6B, qwen3-0.6b), from the cache, else downloaded: the
 * manifest holds each slot's tokenizer hash. A folder the config names must exist; an upgrade must name a model.
 */
async function slotModels(cfg: SatConfig, config: string, offline: boolean): Promise<Map<string, string>> {
  const modelDirs = new Map<string, string>();
  for (const [i, a] of cfg.sat.agents.entries()) {
    for (const [key, ref] of [
      ['path', a.path],
      ['upgrade', a.upgrade],
    ] as const) {
      if (ref === null) continue;
      if (path.isAbsolute(ref) ? !fs.existsSync(ref) : !isModelName(ref))
        throw new InputError(
          `sat.agents[${i}].${key} of ${config} names no model: ${ref} is no folder, embedded model or hub repo id`,
        );
    }
    if (modelDirs.has(a.path) || path.isAbsolute(a.path)) continue;
    const model = await resolveModel(a.path, {
      ...(offline ? { offline } : {}),
      progress: progressBar(process.stderr),
    });
    modelDirs.set(a.path, model.dir);
  }
  return modelDirs;
}

const isModelName = (ref: string) => {
  try {
    parseModelSpec(ref);
    return true;
  } catch {
    return false;
  }
};

export const teamShowCommand: Command = {
  name: 'team show',
  summary: "print a team file's manifest and team id",
  usage: 'sat-peer team show <team file> [--json]',
  args: ['file'],
  options: {},
  run({ args, json }) {
    const summary = teamSummary(readTeamFile(args.file));
    if (json) return printJson(summary);
    process.stdout.write(`${teamLines(summary).join('\n')}\n`);
  },
};
