/**
 * SAT configuration files: YAML or JSON in the SAT reference's structure (configs/sat_*.yaml of
 * github.com/Yydc/SAT-AAMAS), plus our `team.workflow`, `training.lora` and `seed`.
 *
 * @example
 * ```ts
 * const config = loadConfig('configs/sat_demo.yaml');
 * for (const w of config.source.warnings) console.warn(`warning: ${w}`); // `sat.shceduler: unknown key, ignored; ...`
 * config.sat.groupSize;        // sat.group_size, 4 unless set
 * config.dataset.trainPath;    // absolute: resolved against the config file's folder
 * ```
 *
 * Every field is filled (node/config/schema.ts lists keys, checks and defaults; node/config/types.ts
 * the camelCase names). Unknown keys are warnings naming the nearest known key, or with
 * `{ unknownKeys: 'error' }` (a team's config) an UnknownConfigKeyError; a missing file, unparsable text
 * or a bad value is a ConfigError with a one-line message.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError } from './errors.ts';
import { show, readSection } from './fields.ts';
import { SCHEMA, crossCheck } from './schema.ts';
import type { ConfigValues, SatConfig } from './types.ts';
import { type UnknownKeys, unknownKeyHandler } from './unknown-keys.ts';

export { ConfigError, UnknownConfigKeyError } from './errors.ts';
export type * from './types.ts';
export type { UnknownKeys } from './unknown-keys.ts';

export type ConfigFormat = 'yaml' | 'json';

export interface LoadOptions {
  /** Keys the schema does not know: warned about (the default) or refused. */
  unknownKeys?: UnknownKeys;
}

/** Reads, checks and completes the config at `file` (`.json`: JSON, anything else: YAML). */
export function loadConfig(file: string, options: LoadOptions = {}): SatConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message;
    throw new ConfigError(`cannot read config ${abs}: ${why}`, abs);
  }
  return parseConfig(text, path.extname(abs).toLowerCase() === '.json' ? 'json' : 'yaml', abs, options);
}

/** Checks and completes config text; `file` names it in messages and anchors its relative paths. */
export function parseConfig(text: string, format: ConfigFormat, file: string, options: LoadOptions = {}): SatConfig {
  const abs = path.resolve(file);
  const raw = format === 'json' ? parseJson(text, abs) : parseYaml(text, abs);
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(`config ${abs} must be a mapping of sections (algorithm:, sat:, ...), got ${show(raw)}`, abs);
  }
  const warnings: string[] = [];
  const values = {} as Record<string, unknown>;
  const unknownKey = unknownKeyHandler(options.unknownKeys ?? 'warn', abs, warnings);
  readSection(SCHEMA, raw, { key: '', file: abs, root: values, index: 0, unknownKey }, values);
  crossCheck(values as unknown as ConfigValues, abs);
  return { ...(values as unknown as ConfigValues), source: { file: abs, format, warnings } };
}

function parseYaml(text: string, file: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  const [error] = doc.errors;
  if (error) {
    const reason = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const at = error.linePos ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}: ` : '';
    throw new ConfigError(`cannot parse YAML config ${file}: ${at}${reason}`, file);
  }
  return doc.toJS();
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const pos = /at position (\d+)/.exec(message);
    let at = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1])).split('\n');
      at = `line ${before.length}, column ${before.at(-1)!.length + 1}: `;
    }
    throw new ConfigError(
      `cannot parse JSON config ${file}: ${at}${message.replace(/ in JSON at position \d+.*$/, '')}`,
      file,
    );
  }
}
