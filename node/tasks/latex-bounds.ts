// What the LaTeX engine (latex-value.ts) may be given. Answers are untrusted model output and every peer
// recomputes every reward, so the engine's work must stay small for any input, and the bound must not be a
// clock: a time limit would let a slow peer and a fast one score the same answer differently. So the input
// is bounded up front, in three steps, and whatever falls outside is compared as text only:
// - the text before parsing: its length, its bracket nesting, no words (`Yes`, `cm`, `or`: the parser reads a
//   word as a product of one-letter variables, so `no` would equal `on`), and no `1e999999` (the parser's
//   work grows with such an exponent);
// - the parsed tree before it is simplified or evaluated: at most 40 nodes, known operators and symbols only
//   (nothing that assigns, declares or calls), numbers up to 1e20, small literal exponents whose product
//   along a path stays at most 100 (no `10^{10^{10}}`), factorials and binomials of small literal integers;
// - before a symbolic expansion: the number of terms it could produce.

/** Answers longer than this are compared as text. */
const MAX_LATEX_LENGTH = 256;
const MAX_BRACKET_DEPTH = 10;
const MAX_NODES = 40;
const MAX_TREE_DEPTH = 32;
const MAX_LITERAL = 1e20;
/** The largest literal exponent, and the largest product of the exponents that enclose a subtree. */
const MAX_EXPONENT = 100;
const MAX_FACTORIAL = 50;
const MAX_BINOMIAL = 200;
/**
 * The most terms an expansion of a polynomial answer may have (`(x+1)^2(x-1)^2` and `(a+b)^4` count 16): the
 * engine's expansion takes a few milliseconds a term.
 */
export const MAX_EXPANDED_TERMS = 16;

/** Operators of the parsed and of the canonical form that only compute a value or build a tuple, interval or set. */
const OPERATORS = new Set([
  'Add',
  'Subtract',
  'Negate',
  'Multiply',
  'InvisibleOperator',
  'Divide',
  'Rational',
  'Power',
  'Sqrt',
  'Root',
  'Exp',
  'Ln',
  'Log',
  'Lb',
  'Lg',
  'Sin',
  'Cos',
  'Tan',
  'Cot',
  'Sec',
  'Csc',
  'Arcsin',
  'Arccos',
  'Arctan',
  'Abs',
  'Factorial',
  'Binomial',
  'Complex',
  'Delimiter',
  'Sequence',
  'Tuple',
  'List',
  'Interval',
  'Open',
  'Set',
  'Union',
  'Equal',
]);
const CONSTANTS = new Set([
  'Pi',
  'ExponentialE',
  'ImaginaryUnit',
  'PositiveInfinity',
  'NegativeInfinity',
  'ComplexInfinity',
]);
const GREEK = new Set([
  ...['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'varepsilon', 'zeta', 'eta', 'theta', 'vartheta', 'iota'],
  ...['kappa', 'lambda', 'mu', 'nu', 'xi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'varphi', 'chi', 'psi', 'omega'],
]);
/** A variable: one letter, perhaps with a short subscript (`x_1`), or a Greek letter. */
const VARIABLE = /^[a-zA-Z](?:_[a-zA-Z0-9]{1,3})?$/;

/** Whether `latex` is short, shallow and free of words, so that parsing it is cheap and meaningful. */
export function parsableLatex(latex: string): boolean {
  if (latex.length === 0 || latex.length > MAX_LATEX_LENGTH) return false;
  let depth = 0;
  for (const c of latex) {
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') depth--;
    if (depth > MAX_BRACKET_DEPTH) return false;
  }
  return !/[a-zA-Z]{2,}/.test(latex.replace(/\\[a-zA-Z]+/g, ' ')) && !/\d[eE][-+]?\d{3}/.test(latex);
}

/** Whether a parsed (not yet canonical) MathJSON tree stays within the bounds of the file comment. */
export function boundedTree(json: unknown): boolean {
  let nodes = 0;
  const within = (j: unknown, depth: number, exponents: number): boolean => {
    if (++nodes > MAX_NODES || depth > MAX_TREE_DEPTH) return false;
    if (typeof j === 'number' || isNumberObject(j)) return Math.abs(literal(j)) <= MAX_LITERAL;
    if (typeof j === 'string') return CONSTANTS.has(j) || VARIABLE.test(j) || GREEK.has(j);
    if (!Array.isArray(j) || typeof j[0] !== 'string' || !OPERATORS.has(j[0])) return false;
    const [op, ...args] = j as [string, ...unknown[]];
    const sub = (a: unknown, factor = 1) => within(a, depth + 1, exponents * factor);
    switch (op) {
      case 'Power':
      case 'Root': {
        const k = exponentSize(args[1]);
        return args.length === 2 && k !== undefined && exponents * k <= MAX_EXPONENT && sub(args[0], k);
      }
      case 'Factorial':
        return args.length === 1 && smallInteger(args[0], MAX_FACTORIAL);
      case 'Binomial':
        return args.length === 2 && args.every((a) => smallInteger(a, MAX_BINOMIAL));
      case 'Delimiter':
        // ["Delimiter", body, "'(,)'"]: the fences are a string, the body is checked.
        return args.length >= 1 && sub(args[0]) && args.slice(1).every(isStringLiteral);
      default:
        return args.every((a) => sub(a));
    }
  };
  return within(json, 0, 1);
}

/**
 * An upper bound on the number of terms of the expansion of a canonical MathJSON tree: sums add, products
 * multiply, a power of a sum to a literal integer `k` raises to `k`. Infinity once over MAX_EXPANDED_TERMS.
 */
export function expansionTerms(json: unknown): number {
  if (!Array.isArray(json)) return 1;
  const [op, ...args] = json as [unknown, ...unknown[]];
  const terms = args.map(expansionTerms);
  let n: number;
  if (op === 'Add') n = terms.reduce((a, b) => a + b, 0);
  else if (op === 'Power') {
    const k = typeof args[1] === 'number' && Number.isInteger(args[1]) ? Math.abs(args[1]) : 1;
    n = terms[0] ** Math.max(1, k);
  } else n = terms.reduce((a, b) => a * b, 1);
  return n > MAX_EXPANDED_TERMS ? Number.POSITIVE_INFINITY : n;
}

/**
 * How much an exponent may grow its base: |k| for a literal (or `-k`, `a/b` of literals with |b| >= 1, in any
 * brackets), 1 for an exponent holding a variable (`2^{n+1}`: no variable is ever given a value), undefined
 * for anything else (`10^{10^{10}}`, `2^{\pi}`).
 */
function exponentSize(j: unknown): number | undefined {
  const k = literalExponent(j);
  if (k !== undefined) return Number.isFinite(k) && k <= MAX_EXPONENT ? Math.max(1, k) : undefined;
  return hasVariable(j) && boundedTree(j) ? 1 : undefined;
}

function literalExponent(j: unknown): number | undefined {
  if (typeof j === 'number' || isNumberObject(j)) return Math.abs(literal(j));
  if (!Array.isArray(j)) return undefined;
  const [op, a, b] = j;
  if ((op === 'Negate' || op === 'Delimiter') && j.length <= 3) return literalExponent(a);
  if ((op === 'Divide' || op === 'Rational') && j.length === 3) {
    const den = literalExponent(b);
    return den !== undefined && den >= 1 ? literalExponent(a) : undefined;
  }
  return undefined;
}

function hasVariable(j: unknown): boolean {
  if (typeof j === 'string') return (VARIABLE.test(j) && j !== 'e' && j !== 'i') || GREEK.has(j);
  return Array.isArray(j) && j.slice(1).some(hasVariable);
}

function smallInteger(j: unknown, max: number): boolean {
  if (typeof j !== 'number' && !isNumberObject(j)) return false;
  const v = literal(j);
  return Number.isInteger(v) && v >= 0 && v <= max;
}

/** A number of MathJSON: a JavaScript number, or `{num: "12345678901234567890123"}` for a long one. */
function isNumberObject(j: unknown): j is { num: string } {
  return typeof j === 'object' && j !== null && typeof (j as { num?: unknown }).num === 'string';
}

function literal(j: number | { num: string }): number {
  const v = typeof j === 'number' ? j : Number(j.num);
  return Number.isNaN(v) ? Number.POSITIVE_INFINITY : v;
}

function isStringLiteral(j: unknown): boolean {
  return typeof j === 'string' && j.startsWith("'");
}
