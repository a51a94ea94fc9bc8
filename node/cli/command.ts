// The shape of one `sat-peer` command; node/cli/main.ts parses options once and hands them over.

export interface CommandOption {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given more than once (the value is then a list). */
  multiple?: boolean;
  /** Shown in `--help`, e.g. `<port>`. */
  value?: string;
  description: string;
}

export interface CommandArgs {
  /** Positional arguments, by the names in `Command.args`. */
  args: Record<string, string>;
  /** The command's own options as parsed. */
  options: Record<string, string | boolean | string[] | undefined>;
  json: boolean;
  verbose: boolean;
}

export interface Command {
  /** Words that select it, e.g. 'model info'. */
  name: string;
  /** One line for `sat-peer --help`. */
  summary: string;
  usage: string;
  /** Required positional arguments, in order. */
  args: string[];
  options: Record<string, CommandOption>;
  run(args: CommandArgs): Promise<void> | void;
}
