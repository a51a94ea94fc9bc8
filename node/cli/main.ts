// The `sat-peer` entry: assembles the commands of node/cli/commands/, parses the command line once, runs
// the chosen command and turns what it throws into one line on stderr and an exit code (2: the user's
// input is wrong, 1: a bug). bin/sat-peer.js calls `main`, adding the commands that live outside node/
// (`sat-peer sim`, in sim/).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  InputError,
  ModelDownloadError,
  ModelFormatError,
  ModelNotFoundError,
  TokenizerError,
} from '../agent/errors.ts';
import type { Command, CommandOption } from './command.ts';
import { evalCommand } from './commands/eval.ts';
import { generateCommand } from './commands/generate.ts';
import { modelInfoCommand } from './commands/model-info.ts';
import { modelInitCommand } from './commands/model-init.ts';
import { modelScoreCommand } from './commands/model-score.ts';
import { pretrainCommand } from './commands/pretrain.ts';
import { startCommand } from './commands/start.ts';
import { statusCommand } from './commands/status.ts';
import { teamCreateCommand, teamShowCommand } from './commands/team.ts';
import { trainCommand } from './commands/train.ts';
import { upgradeCommand } from './commands/upgrade.ts';
import { ConfigError } from '../config/errors.ts';
import { editDistance } from '../config/unknown-keys.ts';
import { UsageError } from './errors.ts';
import { DeviceError, SafetensorsError } from '../gpu/errors.ts';
import { ClaimError, HostConfigError, IdentityError } from '../protocol/errors.ts';
import { TeamFetchError } from '../peer/team-fetch.ts';
import { packageVersion } from '../util/version.ts';
import { HttpAddressError, StatusUnreachableError } from '../ops/errors.ts';

const COMMANDS: Command[] = [
  modelInfoCommand,
  modelInitCommand,
  modelScoreCommand,
  generateCommand,
  pretrainCommand,
  trainCommand,
  evalCommand,
  upgradeCommand,
  teamCreateCommand,
  teamShowCommand,
  startCommand,
  statusCommand,
];

/** An error class whose failures are the user's to fix (one line, exit 2). */
type UserErrorClass = abstract new (...args: never[]) => Error;

/** Commands and user-error classes defined outside node/ (the sim's), added by the bin. */
export interface CliExtensions {
  commands?: Command[];
  userErrors?: UserErrorClass[];
}

const GLOBAL: Record<string, CommandOption> = {
  json: {
    type: 'boolean',
    description: 'print JSON instead of text (one object; a long-running command prints one event per line)',
  },
  verbose: { type: 'boolean', description: 'more detail; stack traces on errors' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version of sat-peer' },
};
const GLOBAL_FLAGS = new Set(['--json', '--verbose', '--help', '-h', '--version']);

/** Failures caused by the user's input or files: one line, exit 2. */
const KNOWN: UserErrorClass[] = [
  UsageError,
  ConfigError,
  ModelFormatError,
  ModelNotFoundError,
  ModelDownloadError,
  SafetensorsError,
  InputError,
  TokenizerError,
  DeviceError,
  ClaimError,
  HostConfigError,
  IdentityError,
  TeamFetchError,
  HttpAddressError,
  StatusUnreachableError,
];

function optionLines(options: Record<string, CommandOption>): string[] {
  const left = Object.entries(options).map(
    ([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
  );
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(options).map((o, i) => `  ${left[i].padEnd(width)}  ${o.description}`);
}

function help(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'sat-peer: peer-to-peer post-training of a team of LLM agents with SAT',
    '',
    'Usage: sat-peer <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL),
    '',
    "Run 'sat-peer <command> --help' for a command's usage and options.",
  ].join('\n');
}

function commandHelp(c: Command): string {
  const own = Object.keys(c.options).length ? ['', 'Options:', ...optionLines(c.options)] : [];
  return [`Usage: ${c.usage}`, '', c.summary, ...own, '', 'Global options:', ...optionLines(GLOBAL)].join('\n');
}

/** The help of a group of subcommands (`sat-peer team`): each one's summary and usage. */
function groupHelp(group: string, members: readonly Command[]): string {
  return [
    `Usage: sat-peer ${group} <${members.map((c) => c.name.slice(group.length + 1)).join('|')}> [options]`,
    '',
    'Subcommands:',
    ...members.flatMap((c) => [`  ${c.name}: ${c.summary}`, `    ${c.usage}`]),
    '',
    `Run 'sat-peer ${group} <subcommand> --help' for its options.`,
  ].join('\n');
}

/** The command named by the leading words of argv (global flags may come between), and argv without them. */
function findCommand(
  argv: string[],
  commands: readonly Command[],
): { command: Command; rest: string[] } | { words: string[] } {
  const wordAt: number[] = [];
  for (let i = 0; i < argv.length && !(argv[i].startsWith('-') && !GLOBAL_FLAGS.has(argv[i])); i++) {
    if (!argv[i].startsWith('-')) wordAt.push(i);
  }
  const words = wordAt.map((i) => argv[i]);
  for (const command of commands) {
    const name = command.name.split(' ');
    if (name.every((w, k) => words[k] === w)) {
      const used = new Set(wordAt.slice(0, name.length));
      return { command, rest: argv.filter((_, i) => !used.has(i)) };
    }
  }
  return { words };
}

/**
 * argv with `--flag -1` written `--flag=-1` for string flags: node's parser takes a value that starts with '-' for
 * an option, so a negative number would never reach the flag's own range check.
 */
function withNegativeValues(argv: string[], options: Record<string, CommandOption>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return [...out, ...argv.slice(i)];
    const name = /^--([^=]+)$/.exec(argv[i])?.[1];
    if (name && options[name]?.type === 'string' && /^-(\d|\.\d)/.test(argv[i + 1] ?? '')) {
      out.push(`${argv[i]}=${argv[i + 1]}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

function parse(argv: string[], options: Record<string, CommandOption>) {
  const config: ParseArgsConfig['options'] = {};
  for (const [name, o] of Object.entries(options))
    config[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  try {
    return parseArgs({
      args: withNegativeValues(argv, options),
      options: config,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    // node's messages run on with advice about '--'; keep the first sentence.
    const first = (e as Error).message.split(/\.\s/)[0];
    const typed =
      (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'--([^'=]+)'/.exec(first)?.[1];
    const near = typed ? nearestOption(typed, Object.keys(options)) : undefined;
    throw new UsageError(`${first.charAt(0).toLowerCase()}${first.slice(1)}${near ? `; did you mean --${near}?` : ''}`);
  }
}

/** The option of `known` nearest the misspelled `typed` (at most 2 edits, fewer than its length), if one is. */
function nearestOption(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let distance = Math.min(2, typed.length - 1) + 1;
  for (const name of known) {
    const d = editDistance(typed, name);
    if (d < distance) [best, distance] = [name, d];
  }
  return best;
}

async function dispatch(argv: string[], commands: readonly Command[]): Promise<void> {
  const found = findCommand(argv, commands);
  if (!('command' in found)) {
    const { values } = parse(
      argv.filter((a) => a.startsWith('-')),
      GLOBAL,
    );
    if (found.words.length === 0 && values.version) return void process.stdout.write(`${packageVersion()}\n`);
    if (found.words.length === 0 && (values.help || argv.length === 0))
      return void process.stdout.write(`${help(commands)}\n`);
    if (found.words.length === 0) throw new UsageError('missing command');
    const typed = found.words.join(' ');
    const members = commands.filter((c) => c.name.startsWith(`${typed} `));
    if (members.length && values.help) return void process.stdout.write(`${groupHelp(typed, members)}\n`);
    const near = commands.filter((c) => c.name.startsWith(`${found.words[0]} `)).map((c) => `'${c.name}'`);
    const choices = near.length > 1 ? `${near.slice(0, -1).join(', ')} or ${near.at(-1)}` : near.join('');
    throw new UsageError(`unknown command '${typed}'${near.length ? `; did you mean ${choices}?` : ''}`);
  }
  const { command, rest } = found;
  const { values, positionals } = parse(rest, { ...GLOBAL, ...command.options });
  if (values.help) return void process.stdout.write(`${commandHelp(command)}\n`);
  if (positionals.length < command.args.length)
    throw new UsageError(`missing argument <${command.args[positionals.length]}>; usage: ${command.usage}`);
  if (positionals.length > command.args.length)
    throw new UsageError(`unexpected argument '${positionals[command.args.length]}' for '${command.name}'`);
  const own = Object.fromEntries(
    Object.keys(command.options).map((k) => [k, values[k] as string | boolean | string[] | undefined]),
  );
  await command.run({
    args: Object.fromEntries(command.args.map((name, i) => [name, positionals[i]])),
    options: own,
    json: values.json === true,
    verbose: values.verbose === true,
  });
}

/** Runs one command line; returns the process exit code. Every error ends here, once. */
export async function main(argv: string[], extensions: CliExtensions = {}): Promise<number> {
  try {
    await dispatch(argv, [...COMMANDS, ...(extensions.commands ?? [])]);
    return 0;
  } catch (e) {
    const { code, text } = report(e, argv.includes('--verbose'), extensions.userErrors);
    process.stderr.write(text);
    return code;
  }
}

/** What the file system's refusals mean, for a path the user gave (a data dir that is a file, a read-only place). */
const FILE_ERRORS: Record<string, string> = {
  EEXIST: 'a file is in the way',
  ENOTDIR: 'part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  ENOTEMPTY: 'a folder that is not empty is in the way',
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
};

/** One line for a file system error on a path, or undefined for any other error. */
function fileError(err: NodeJS.ErrnoException & { dest?: string }): string | undefined {
  const why = err.code && FILE_ERRORS[err.code];
  const where = err.dest ?? err.path;
  return why && where && err.syscall ? `cannot ${err.syscall} ${where}: ${why}` : undefined;
}

/** What a failure prints and its exit code: 2 and one line for the user's mistakes, 1 for bugs. */
export function report(
  e: unknown,
  verbose: boolean,
  userErrors: readonly UserErrorClass[] = [],
): { code: number; text: string } {
  const err = e instanceof Error ? e : new Error(String(e));
  const onFile = fileError(err);
  if (onFile) return { code: 2, text: `sat-peer: ${onFile}\n${verbose && err.stack ? `${err.stack}\n` : ''}` };
  // By name too: an error rebuilt on this side of the compute worker keeps its name but not its class.
  const known = [...KNOWN, ...userErrors].some((k) => err.name === k.name || err instanceof k);
  const line = err.message.replace(/\s*\n\s*/g, ' ');
  const hint =
    err instanceof UsageError
      ? ' (see sat-peer --help)'
      : known || verbose
        ? ''
        : ' (a bug: rerun with --verbose for the stack trace)';
  const stack = verbose && err.stack ? `${err.stack}\n` : '';
  return { code: known ? 2 : 1, text: `sat-peer: ${known ? '' : 'internal error: '}${line}${hint}\n${stack}` };
}
