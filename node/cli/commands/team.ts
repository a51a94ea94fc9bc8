// `sat-peer team create --config <file> --out <team file>` writes a team's manifest from a SAT config;
// `sat-peer team show <team file>` prints it with its team id.
import fs from 'node:fs';
import { progressBar, resolveModel } from '../../agent/hub/hub.ts';
import { loadConfig } from '../../config/load.ts';
import { allowed, manifestFromConfig, readTeamFile, writeTeamFile } from '../../peer/manifest.ts';
import { Admission, LIMITS, Workflow } from '../../protocol/codec.ts';
import type { Command } from '../command.ts';
import { numberFlag, stringFlag, printJson } from '../options.ts';

export const teamCreateCommand: Command = {
  name: 'team create',
  summary: 'write a team file (the manifest peers join with) from a SAT config',
  usage:
    'sat-peer team create --config <file> --out <team file> [--name <name>] [--slots N] [--allow <peer id>]... ' +
    '[--no-upgrades] [--offline]',
  args: [],
  options: {
    config: {
      type: 'string',
      value: '<file>',
      description: 'the SAT config: slots (sat.agents), workflow, algorithm, dataset',
    },
    out: { type: 'string', value: '<file>', description: 'where to write the team file (YAML)' },
    name: { type: 'string', value: '<name>', description: "the team's name (default: the config file's)" },
    slots: {
      type: 'string',
      value: '<n>',
      description:
        "the number of slots: the config's first agents, or all of them and copies of the last (default: the config's agents)",
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
  },
  async run({ options, json }) {
    const out = stringFlag(options, 'out', true);
    const name = stringFlag(options, 'name');
    const slots =
      options.slots === undefined
        ? undefined
        : numberFlag(options, 'slots', 0, { integer: true, min: 1, max: LIMITS.slots });
    const allow = options.allow === undefined ? [] : [options.allow].flat().map(String);
    const config = stringFlag(options, 'config', true);
    // A slot named by a hub model (Qwen/Qwen3-0.6B, qwen3-0.6b) is read from the cache, else downloaded: the
    // manifest holds its tokenizer's hash.
    const modelDirs = new Map<string, string>();
    for (const { path: ref } of loadConfig(config).sat.agents) {
      if (modelDirs.has(ref) || fs.existsSync(ref)) continue;
      const model = await resolveModel(ref, {
        ...(options.offline ? { offline: true } : {}),
        progress: progressBar(process.stderr),
      });
      modelDirs.set(ref, model.dir);
    }
    const m = manifestFromConfig(config, {
      modelDirs,
      ...(name ? { name } : {}),
      ...(slots ? { slots } : {}),
      ...(allow.length ? { allow } : {}),
      upgrades: !options['no-upgrades'],
    });
    const id = writeTeamFile(out, m);
    process.stdout.write(
      json
        ? `${JSON.stringify({ id, file: out, slots: m.slots.length })}\n`
        : `team ${id} (${m.slots.length} slots) written to ${out}\n`,
    );
  },
};

export const teamShowCommand: Command = {
  name: 'team show',
  summary: "print a team file's manifest and team id",
  usage: 'sat-peer team show <team file> [--json]',
  args: ['file'],
  options: {},
  run({ args, json }) {
    const { manifest: m, id, cfg } = readTeamFile(args.file);
    const slots = m.slots.map((s, i) => ({
      slot: i,
      role: s.role,
      family: s.family,
      tokenizer: Buffer.from(s.tokenizer!).toString('hex'),
    }));
    const workflow = m.workflow === Workflow.CHAIN ? 'chain' : 'ensemble';
    const admitted = allowed(m);
    if (json)
      return printJson({
        id,
        name: m.name,
        workflow,
        upgrades: m.upgrades,
        admission: m.admission === Admission.OPEN ? 'open' : 'allowlist',
        allow: admitted,
        slots,
        dataset: { name: m.dataset!.name, uri: m.dataset!.uri },
        stages: cfg.training.numStages,
        models: cfg.sat.agents.map((a) => ({ path: a.path, upgrade: a.upgrade ?? null })),
      });
    process.stdout.write(
      `${[
        `team ${id}: ${m.name}`,
        `  workflow ${workflow}, ${cfg.training.numStages} stages, upgrades ` +
          `${m.upgrades ? 'allowed' : 'refused'}, ` +
          `${m.admission === Admission.OPEN ? 'open to any peer' : `admits ${admitted.length} peers: ${admitted.join(', ')}`}`,
        ...slots.map((s) => `  slot ${s.slot}: ${s.role} (${s.family}, tokenizer ${s.tokenizer.slice(0, 12)}…)`),
        `  dataset ${m.dataset!.name} at ${m.dataset!.uri}`,
      ].join('\n')}\n`,
    );
  },
};
