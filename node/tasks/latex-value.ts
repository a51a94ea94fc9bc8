// Whether two LaTeX answers denote the same mathematical value, decided by @cortex-js/compute-engine (the one
// module that imports it). The verifier asks only about answers its exact rational path cannot settle:
// `\frac{\sqrt2}{2}` and `\sqrt2/2`, `3\sqrt2` and `\sqrt{18}`, `(1,2)`, `[0,1)`, `x^2+2x+1` and `(x+1)^2`.
//
// Both answers are parsed in one throwaway scope (their `x` is the same variable, and nothing they declare
// outlives the call), after latex-bounds.ts has bounded the text and the parsed tree. Then, in order:
// - canonical forms that are the same structure are equal (the engine already folds `3\sqrt2` = `\sqrt{18}`);
// - tuples, lists, intervals (with their open ends) and equations are equal element-wise, in order; sets,
//   unions and bare lists of solutions (`-1, 2`) whatever the order of their elements;
// - numbers without variables: exactly when both are rational (a number as written, or an exact result such
//   as `2^{100}+1` or `\sqrt{8}\sqrt{2}`); else by their numeric values at 30 digits, to a relative 1e-9;
// - expressions with variables: when the expansion of their difference is 0, if that expansion is small.
// Anything else, and any exception of the engine, is not equal. Nothing here reads a clock or draws a random
// number (the engine's identity check, which samples random points, is not used), so every peer agrees.
import { ComputeEngine, type Expression, isFunction, isNumber } from '@cortex-js/compute-engine';
import { boundedTree, expansionTerms, MAX_EXPANDED_TERMS, parsableLatex } from './latex-bounds.ts';

/** Significant digits of the engine's numeric values: enough that RELATIVE_TOLERANCE is far above rounding. */
const PRECISION = 30;
const RELATIVE_TOLERANCE = 1e-9;
/** Below this two numeric values are equal whatever their size: rounding dust of a value that is exactly 0. */
const ABSOLUTE_TOLERANCE = 1e-20;
/** Compared element-wise in order. */
const SEQUENCES = new Set(['Tuple', 'List', 'Interval', 'Open', 'Equal', 'Sequence']);
/** Compared element-wise in any order. */
const SETS = new Set(['Set', 'Union']);

/**
 * Comparisons made once when the engine is built. The engine loads parts of its library on first use (the
 * first trigonometric value takes about 0.1 s): loading them up front keeps every later comparison fast.
 */
const WARM_UP: [string, string][] = [
  ['\\cos(\\pi/4)', '\\frac{\\sqrt2}{2}'],
  ['x^2+2x+1', '(x+1)^2'],
  ['(1,\\sqrt3)', '\\{1,2\\}'],
];

let engine: ComputeEngine | undefined;

/**
 * The engine, built on first use: building and warming it up takes a few tenths of a second. An engine that
 * cannot be built is a broken installation, not an answer, so that error is thrown, not read as "not equal".
 */
function computeEngine(): ComputeEngine {
  if (!engine) {
    engine = new ComputeEngine({ precision: PRECISION });
    for (const [a, b] of WARM_UP) compare(engine, a, b);
  }
  return engine;
}

/** Whether LaTeX answers `a` and `b` denote the same value (see the file comment); false when undecided. */
export function latexValuesEqual(a: string, b: string): boolean {
  return parsableLatex(a) && parsableLatex(b) && compare(computeEngine(), a, b);
}

/** Whether `a` and `b` denote the same value, parsed in a scope of their own; false on any exception. */
function compare(ce: ComputeEngine, a: string, b: string): boolean {
  ce.pushScope();
  try {
    const x = parseBounded(ce, a);
    const y = x && parseBounded(ce, b);
    return x !== undefined && y !== undefined && sameAnswer(ce, x, y);
  } catch {
    return false;
  } finally {
    ce.popScope();
  }
}

/** A parsed answer: its canonical form, and whether it was written as a list without brackets (`-1, 2`). */
interface Parsed {
  expr: Expression;
  bareList: boolean;
}

/** `latex` parsed, or undefined when it does not parse or its parsed tree is out of bounds. */
function parseBounded(ce: ComputeEngine, latex: string): Parsed | undefined {
  const raw = ce.parse(latex, { form: 'raw' });
  if (!raw?.isValid || !boundedTree(raw.json)) return undefined;
  const expr = raw.canonical;
  // The parser reads `-1, 2` as ["Delimiter", ["Sequence", -1, 2], "','"], and `(-1, 2)` with "'(,)'".
  const json = raw.json;
  const bareList = Array.isArray(json) && json[0] === 'Delimiter' && json[2] === "','";
  return expr.isValid ? { expr, bareList } : undefined;
}

/**
 * MATH writes all the solutions of an equation as a bare list, `-1, 2`: in any order that is the same answer,
 * and the same as the set `\{2, -1\}`. Against a tuple `(-1, 2)` the order counts.
 */
function sameAnswer(ce: ComputeEngine, x: Parsed, y: Parsed): boolean {
  const unordered = (p: Parsed) => p.bareList || p.expr.operator === 'Set';
  if ((x.bareList || y.bareList) && unordered(x) && unordered(y)) {
    const [xs, ys] = [operands(x.expr), operands(y.expr)];
    return xs.length === ys.length && sameElements(ce, xs, ys);
  }
  return sameValue(ce, x.expr, y.expr);
}

function sameValue(ce: ComputeEngine, x: Expression, y: Expression): boolean {
  if (x.isSame(y)) return true;
  const [xs, ys] = [operands(x), operands(y)];
  const sameShape = x.operator === y.operator && xs.length === ys.length;
  if (SEQUENCES.has(x.operator) || SEQUENCES.has(y.operator)) {
    return sameShape && xs.every((o, i) => sameValue(ce, o, ys[i]));
  }
  if (SETS.has(x.operator) || SETS.has(y.operator)) return sameShape && sameElements(ce, xs, ys);
  if (x.freeVariables.length > 0 || y.freeVariables.length > 0) return sameExpansion(ce, x, y);
  return sameNumber(x, y);
}

function operands(x: Expression): readonly Expression[] {
  return isFunction(x) ? x.ops : [];
}

/** Whether each element of `xs` matches a different element of `ys` (both the same length). */
function sameElements(ce: ComputeEngine, xs: readonly Expression[], ys: readonly Expression[]): boolean {
  const used = new Set<number>();
  return xs.every((x) => {
    const j = ys.findIndex((y, k) => !used.has(k) && sameValue(ce, x, y));
    return j >= 0 && used.add(j) !== undefined;
  });
}

function sameNumber(x: Expression, y: Expression): boolean {
  const ex = exactValue(x);
  const ey = ex && exactValue(y);
  if (ex && ey) return ex.isSame(ey);
  const nx = x.N();
  const ny = y.N();
  if (!isNumber(nx) || !isNumber(ny)) return false;
  const scale = Math.max(Math.hypot(nx.re, nx.im), Math.hypot(ny.re, ny.im));
  // A value beyond the doubles (`e^{1000}`) or undefined (`0^0`) is equal only in the same form (isSame above).
  if (!Number.isFinite(scale)) return false;
  return close(nx.re, ny.re, scale) && close(nx.im, ny.im, scale);
}

/**
 * The value of `x` when it is a rational number: a rational or decimal as written, or an exact evaluation to
 * a rational (`2^{100}+1`). A radical is not one, though the engine holds `\sqrt2` as an exact number literal,
 * and neither is a decimal the evaluation rounded (`1.5\pi`).
 */
function exactValue(x: Expression): Expression | undefined {
  const v = isNumber(x) ? x : x.evaluate();
  if (!isNumber(v) || v.im !== 0) return undefined;
  return v.isRational === true || (v === x && !v.isExact) ? v : undefined;
}

function close(a: number, b: number, scale: number): boolean {
  const d = Math.abs(a - b);
  return d <= RELATIVE_TOLERANCE * scale || d <= ABSOLUTE_TOLERANCE;
}

/** Whether `x - y` expands to 0; false when either could expand to more than MAX_EXPANDED_TERMS terms. */
function sameExpansion(ce: ComputeEngine, x: Expression, y: Expression): boolean {
  if (expansionTerms(x.json) > MAX_EXPANDED_TERMS || expansionTerms(y.json) > MAX_EXPANDED_TERMS) return false;
  return ce
    .function('Expand', [ce.function('Subtract', [x, y])])
    .evaluate()
    .isSame(0);
}
