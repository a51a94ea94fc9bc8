// The pieces the config schema is built from, and the one walk that applies a schema to parsed YAML or
// JSON: each field is looked up under its YAML key, checked, defaulted and (paths) resolved; keys the
// schema does not name go to `At.unknownKey`; a bad value throws a ConfigError naming the key's path.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.ts';

/** Where a value sits: for messages, derived defaults and relative paths. */
export interface At {
  /** Dotted path of the key, e.g. `sat.agents[0].path`. */
  key: string;
  /** The config file (absolute); relative paths resolve against its folder. */
  file: string;
  /** The configuration read so far: sections are read in schema order. */
  root: Record<string, unknown>;
  /** Position in the enclosing list (0 outside lists). */
  index: number;
  /** Hears each key the schema does not name: its dotted path and the keys known beside it (node/config/unknown-keys.ts). */
  unknownKey(key: string, known: readonly string[]): void;
}

/** The fallback of a key that has no default. */
export const REQUIRED = Symbol('required');

export interface Leaf<T> {
  kind: 'leaf';
  /** The YAML key, where it is not the snake_case of the field name. */
  key?: string;
  /** What a good value is, for messages: `a number in (0, 1]`. */
  expected: string;
  accepts(v: unknown): boolean;
  /** The default: a value, one computed from what was read before it, or REQUIRED. */
  fallback: T | ((at: At) => T) | typeof REQUIRED;
  /** Turns an accepted value or the default into the field's value (copies lists, resolves paths). */
  finish?(v: unknown, at: At): T;
}
export interface Section<T> {
  kind: 'section';
  key?: string;
  /** Absent or null gives null instead of a section of defaults. */
  nullable: boolean;
  fields: Schema<NonNullable<T>>;
}
export interface List<T> {
  kind: 'list';
  key?: string;
  item: Schema<T extends readonly (infer I)[] ? I : never>;
}
export type Spec<T> = Leaf<T> | Section<T> | List<T>;
/** One spec per field of T, keyed by the TypeScript field name. */
export type Schema<T> = { [K in keyof T]-?: Spec<T[K]> };

// ---- building blocks ----

const leaf = <T>(
  expected: string,
  accepts: (v: unknown) => boolean,
  fallback: Leaf<T>['fallback'],
  finish?: Leaf<T>['finish'],
): Leaf<T> => ({ kind: 'leaf', expected, accepts, fallback, ...(finish ? { finish } : {}) });

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** A finite number, within `range` when given: `(0, 1]`, `[0, 1)`, `> 0` or `>= 0`. */
export function num(fallback: number | ((at: At) => number), range?: string): Leaf<number> {
  if (range === undefined) return leaf('a number', isNumber, fallback);
  const interval = /^([[(])(\S+), (\S+)([\])])$/.exec(range);
  const bound = /^(>=?) (\S+)$/.exec(range);
  if (!interval && !bound) throw new Error(`bad range ${range}`);
  const inRange = interval
    ? (x: number) =>
        (interval[1] === '[' ? x >= +interval[2]! : x > +interval[2]!) &&
        (interval[4] === ']' ? x <= +interval[3]! : x < +interval[3]!)
    : (x: number) => (bound![1] === '>=' ? x >= +bound![2]! : x > +bound![2]!);
  return leaf(interval ? `a number in ${range}` : `a number ${range}`, (v) => isNumber(v) && inRange(v), fallback);
}

/** An integer >= min (0 or 1). */
export const int = (fallback: number, min: 0 | 1): Leaf<number> =>
  leaf(
    min === 1 ? 'a positive integer' : 'a non-negative integer',
    (v) => Number.isSafeInteger(v) && (v as number) >= min,
    fallback,
  );

export const bool = (fallback: boolean): Leaf<boolean> =>
  leaf('true or false', (v) => typeof v === 'boolean', fallback);

/** One of a fixed set of strings; the message lists them. */
export const oneOf = <const V extends string>(values: readonly V[], fallback: NoInfer<V>): Leaf<V> =>
  leaf(`one of ${values.join(' | ')}`, (v) => values.includes(v as V), fallback);

/** A non-empty string; null allowed when the default is null. */
export function str(fallback: null): Leaf<string | null>;
export function str(fallback: string | ((at: At) => string) | typeof REQUIRED): Leaf<string>;
export function str(fallback: string | null | ((at: At) => string) | typeof REQUIRED): Leaf<string | null> {
  const nullable = fallback === null;
  return leaf(
    nullable ? 'a non-empty string or null' : 'a non-empty string',
    (v) => isText(v) || (nullable && v === null),
    fallback,
  );
}

/** A non-empty list of non-empty strings. */
export const strList = (fallback: string[]): Leaf<string[]> =>
  leaf(
    'a non-empty list of strings',
    (v) => Array.isArray(v) && v.length > 0 && v.every(isText),
    fallback,
    (v) => [...(v as string[])],
  );

const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);
const folderOf = (at: At) => path.dirname(at.file);

/**
 * A file or folder; a relative path resolves against the config file's folder. Null allowed when the default is null.
 */
export function filePath(fallback: string): Leaf<string>;
export function filePath(fallback: null): Leaf<string | null>;
export function filePath(fallback: string | null): Leaf<string | null> {
  const nullable = fallback === null;
  return leaf(
    nullable ? 'a path or null' : 'a path',
    (v) => isText(v) || (nullable && v === null),
    fallback,
    (v, at) => path.resolve(folderOf(at), expandHome(v as string)),
  );
}

/**
 * A model: `./x`, `../x`, `~/x` or an absolute path is a folder (resolved against the config's folder);
 * any other value (`Qwen/Qwen3-4B`, `qwen3-4b`) is a folder when one of that name sits beside the config,
 * else a Hugging Face repo id or model name, kept as written — the rule `from_pretrained` follows.
 */
export function modelRef(fallback: typeof REQUIRED): Leaf<string>;
export function modelRef(fallback: null): Leaf<string | null>;
export function modelRef(fallback: null | typeof REQUIRED): Leaf<string | null> {
  const nullable = fallback === null;
  const resolve = (v: unknown, at: At) => {
    const ref = expandHome(v as string);
    const local = path.resolve(folderOf(at), ref);
    return path.isAbsolute(ref) || /^\.\.?([/\\]|$)/.test(ref) || fs.existsSync(local) ? local : (v as string);
  };
  return leaf(
    nullable ? 'a model folder or repo id, or null' : 'a model folder or repo id',
    (v) => isText(v) || (nullable && v === null),
    fallback,
    resolve,
  );
}

export const section = <T>(fields: Schema<T>): Section<T> => ({
  kind: 'section',
  nullable: false,
  fields: fields as Schema<NonNullable<T>>,
});
/** A section that is null unless the file has it; `{}` gives its defaults. */
export const optionalSection = <T>(fields: Schema<T>): Section<T | null> => ({
  kind: 'section',
  nullable: true,
  fields: fields as Schema<NonNullable<T>>,
});
export const list = <I>(item: Schema<I>): List<I[]> => ({ kind: 'list', item: item as List<I[]>['item'] });
/** Reads the spec under a YAML key other than the snake_case of the field name (`A_clip`). */
export const yamlKey = <S extends Spec<unknown>>(key: string, spec: S): S => ({ ...spec, key });

// ---- the walk ----

export const snakeCase = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const join = (parent: string, key: string) => (parent ? `${parent}.${key}` : key);

/** `v` as a message shows it: strings quoted, containers as (short) JSON, undefined as `nothing`. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  const json = JSON.stringify(v) ?? String(v);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

const invalid = (at: At, expected: string, got: unknown) =>
  new ConfigError(`${at.key} must be ${expected}, got ${show(got)}`, at.file, at.key);

/** Reads every field of `fields` from the mapping `raw` (null or absent: all defaults) into `out`. */
export function readSection<T>(fields: Schema<T>, raw: unknown, at: At, out: Record<string, unknown> = {}): T {
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw)))
    throw invalid(at, 'a mapping', raw);
  const given = (raw ?? {}) as Record<string, unknown>;
  const specs = (Object.entries(fields) as [string, Spec<unknown>][]).map(
    ([field, spec]) => [field, spec.key ?? snakeCase(field), spec] as const,
  );
  const known = new Set(specs.map(([, key]) => key));
  for (const key of Object.keys(given)) if (!known.has(key)) at.unknownKey(join(at.key, key), [...known]);
  for (const [field, key, spec] of specs) out[field] = read(spec, given[key], { ...at, key: join(at.key, key) });
  return out as T;
}

function read(spec: Spec<unknown>, raw: unknown, at: At): unknown {
  switch (spec.kind) {
    case 'section':
      return spec.nullable && (raw === null || raw === undefined) ? null : readSection(spec.fields, raw, at);
    case 'list':
      if (raw === null || raw === undefined) return [];
      if (!Array.isArray(raw)) throw invalid(at, 'a list', raw);
      return raw.map((item, index) => readSection(spec.item, item, { ...at, key: `${at.key}[${index}]`, index }));
    case 'leaf': {
      const { fallback } = spec;
      if (raw === undefined && fallback === REQUIRED) throw invalid(at, spec.expected, raw);
      if (raw !== undefined && !spec.accepts(raw)) throw invalid(at, spec.expected, raw);
      const v =
        raw !== undefined ? raw : typeof fallback === 'function' ? (fallback as (at: At) => unknown)(at) : fallback;
      return spec.finish && v !== null ? spec.finish(v, at) : v;
    }
  }
}
