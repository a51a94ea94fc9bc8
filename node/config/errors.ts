// Typed failures of configuration loading.

/**
 * A configuration file is missing, unparsable or holds a value of the wrong type or range. The message
 * is one line naming the file (missing, unparsable) or the key's dotted path, what was expected and
 * what was found, e.g. `sat.group_size must be a positive integer, got "four"`.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    /** The config file, when known. */
    readonly file?: string,
    /** The dotted path of the offending key (`sat.agents[1].path`), when one key is at fault. */
    readonly key?: string,
  ) {
    super(message);
  }
}
