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

/**
 * A config read as a team's holds a key the schema does not know: `<file>: unknown key <path>`, with
 * `; did you mean `<path>`?` when a known key is near.
 */
export class UnknownConfigKeyError extends ConfigError {
  override name = 'UnknownConfigKeyError';
  constructor(
    message: string,
    file: string,
    key: string,
    /** The known key it was likely meant as (a dotted path). */
    readonly suggestion?: string,
  ) {
    super(message, file, key);
  }
}
