// Stage-log rows of two runs compared number by number.

/** Paths where two logged values differ by more than 1e-6 (keys only one side has are left out). */
export function differences(a: unknown, b: unknown, at = ''): string[] {
  if (typeof a === 'number' && typeof b === 'number')
    return Math.abs(a - b) <= 1e-6 || (Number.isNaN(a) && Number.isNaN(b)) ? [] : [`${at}: ${a} vs ${b}`];
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    return Object.keys(a)
      .filter((k) => k in b && k !== 'seconds' && k !== 'time')
      .flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`));
  }
  return a === b ? [] : [`${at}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
}
