// Keys a config names that the schema does not. Each is reported with the known key beside it that is
// closest by edit distance, else the one key of that name elsewhere in the schema (`sat.target_kl` points
// at `algorithm.kl_ctrl.target_kl`). `train` warns and ignores them; a team's config refuses them, since
// every peer must read it alike (docs/design §4.5, §6).
import { UnknownConfigKeyError } from './errors.ts';
import { type At, type Schema, type Spec, snakeCase } from './fields.ts';
import { SCHEMA } from './schema.ts';

/** What loading does with an unknown key: a warning in `source.warnings`, or an UnknownConfigKeyError. */
export type UnknownKeys = 'warn' | 'error';

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment), ignoring case. */
export function editDistance(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  const d = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= x.length; i++)
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[x.length][y.length];
}

/** The known key nearest `key`, when it is near enough to be a slip: at most a third of its letters (one at least). */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let distance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < distance) [best, distance] = [k, d];
  }
  return best;
}

/** Every key of `schema` as a dotted path, a list's items as `[]`: `sat.agents[].path`. */
function keyPaths(schema: Schema<unknown>, parent = ''): string[] {
  return (Object.entries(schema) as [string, Spec<unknown>][]).flatMap(([field, spec]) => {
    const key = `${parent}${spec.key ?? snakeCase(field)}`;
    if (spec.kind === 'section') return [key, ...keyPaths(spec.fields as Schema<unknown>, `${key}.`)];
    if (spec.kind === 'list') return [key, ...keyPaths(spec.item as Schema<unknown>, `${key}[].`)];
    return [key];
  });
}
const KEY_PATHS = keyPaths(SCHEMA as Schema<unknown>);

/** The dotted path the unknown `key` (a dotted path) was likely meant as, given the keys `known` beside it. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const cut = key.lastIndexOf('.') + 1;
  const near = nearestKey(key.slice(cut), known);
  if (near !== undefined) return `${key.slice(0, cut)}${near}`;
  const elsewhere = KEY_PATHS.filter((p) => p === key.slice(cut) || p.endsWith(`.${key.slice(cut)}`));
  return elsewhere.length === 1 ? elsewhere[0] : undefined;
}

/** `At.unknownKey` for the config `file`: one line in `warnings`, or an UnknownConfigKeyError. */
export function unknownKeyHandler(mode: UnknownKeys, file: string, warnings: string[]): At['unknownKey'] {
  return (key, known) => {
    const near = suggestKey(key, known);
    const hint = near === undefined ? '' : `; did you mean \`${near}\`?`;
    if (mode === 'error') throw new UnknownConfigKeyError(`${file}: unknown key ${key}${hint}`, file, key, near);
    warnings.push(`${key}: unknown key, ignored${hint}`);
  };
}
