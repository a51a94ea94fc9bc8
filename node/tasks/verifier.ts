// A deterministic math answer verifier: pulls the final answer out of a response and compares it with the
// reference by value: plain numbers exactly as BigInt rationals, other LaTeX through latex-value.ts, and
// anything else as noise-free text.
//
// Extraction, by priority: the last non-empty `\boxed{..}` / `\fbox{..}` (braces matched, `\{` `\}`
// skipped) or `\boxed x`; else the last `#### x` whose x is a number (GSM8K's final-answer line; a markdown heading such as
// `#### Step 2` is not one); else the last `Answer: x` / `answer is x` (case-insensitive, also `**Answer:** x`;
// x runs to the end of its line or sentence); else the last number in the text (integer, decimal, `a/b`,
// `\frac{a}{b}` of integers). A reference is read from its last box, else its last numeric `####` line (a
// full MATH or GSM8K solution), else it is the answer as a whole.
// Normalization: `$`, `\,` (also as in `10\,000`), `{,}` (as in `10{,}000`), `\!`, `\left`/`\right`,
// `\displaystyle`, `^\circ`, `%`, a trailing period, a leading `x =` or `x \in` and markdown `*` are dropped;
// `\text{..}` is unwrapped, a multiple-choice `(B)` is `B`, and unit words after a number (`5 cm`, `12apples`,
// `5\text{ m}`) are dropped, but one attached letter is not (`5x` stays text). Numbers: signs, `1,234`, `007` =
// 7, `-0` = 0, `3.50` = 7/2, `.5`, `1e3` = 1000 (exponent up to 100), `a/b`, `\frac{a}{b}` / `\dfrac` /
// `\tfrac` / `\frac12` (nested too); `50%` equals 50, not 0.5, and `90^\circ` equals 90.
// Comparison: equal canonical text is equal (text is case-sensitive, whitespace dropped except one space
// between alphanumerics); two plain numbers are equal only as exact rationals (`0.30000000000000004` is not
// `0.3`); otherwise the two answers go to latex-value.ts, which decides radicals, pi, tuples, intervals, sets
// and small polynomials by value, and says "not equal" to whatever it cannot parse within its bounds.
import { latexValuesEqual } from './latex-value.ts';

const BOX = /\\(boxed|fbox)(?![a-zA-Z])(\s*)/g;
const GSM_MARKER = /(?<!#)####(?!#)[ \t]*([^\n]*)/g;
const MARKER = /\banswer(?:\s*:|\s+is\b\s*:?)([^\n]*)/gi;
const FRAC_IN_TEXT = String.raw`\\[dt]?frac(?:\{[-+]?\d+\}\{\d+\}|\d\d)`;
const DECIMAL_IN_TEXT = String.raw`(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+`;
const NUMBER_IN_TEXT = new RegExp(
  String.raw`(?<![\w.])[-+]?(?:${FRAC_IN_TEXT}|(?:${DECIMAL_IN_TEXT})(?:[eE][-+]?\d+)?(?:/\d+)?)`,
  'g',
);
const NUMBER = /(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?/y;
const TEXT_COMMANDS = /\\(?:text|textbf|textrm|textit|mathrm|mathbf|mbox)\s*\{([^{}]*)\}(?:\^\{?\d\}?)?/g;
const UNITS = /(?<=[\d}])(?: [a-zA-Z]+|[a-zA-Z]{2,})(?: [a-zA-Z]+)*$/;
/** Unit words after a LaTeX expression: only words, so that `2 x` keeps its variable. */
const LATEX_UNITS = /(?<=[\d}])\s?[a-zA-Z]{2,}(?: [a-zA-Z]+)*$/;
const MAX_EXPONENT = 100;
const MAX_DEPTH = 32;

/** An exact rational number `n / d` with `d > 0`. */
interface Rational {
  n: bigint;
  d: bigint;
}

/** An answer read for comparison (readAnswer). */
interface ReadAnswer {
  /** The canonical form (normalizeAnswer). */
  text: string;
  /** The exact value, when the answer is a plain number. */
  value?: Rational;
  /** The noise-free LaTeX, without unit words, for latex-value.ts. */
  latex: string;
}

/** The answer a response gives (see the file comment for the priority), or undefined if it gives none. */
export function extractAnswer(text: string): string | undefined {
  return lastBoxed(text) ?? gsmAnswer(text) ?? markedAnswer(text) ?? text.match(NUMBER_IN_TEXT)?.at(-1);
}

/** The canonical form of an answer: a reduced fraction `p/q` or integer `p` if numeric, else noise-free text. */
export function normalizeAnswer(answer: string): string {
  return readAnswer(answer).text;
}

/** Whether the response's answer equals the reference (a solution as reference is read from its box or `####`). */
export function isCorrect(response: string, reference: string): boolean {
  const got = extractAnswer(response);
  return got !== undefined && answerMatches(got, reference);
}

/** Whether an answer already extracted from a response (extractAnswer) equals the reference, by value. */
export function answerMatches(answer: string, reference: string): boolean {
  const want = readAnswer(lastBoxed(reference) ?? gsmAnswer(reference) ?? reference);
  if (want.text === '') return false;
  const got = readAnswer(answer);
  if (got.text === want.text) return true;
  // Two plain numbers were compared exactly: a nearby decimal is not the same number.
  if (got.value && want.value) return false;
  return latexValuesEqual(got.latex, want.latex);
}

/** The 0/1 reward of a response against the reference answer. */
export function reward(response: string, reference: string): 0 | 1 {
  return isCorrect(response, reference) ? 1 : 0;
}

/**
 * The content of the last non-empty, balanced `\boxed{..}` or `\fbox{..}` (escaped braces skipped), or of `\boxed x`;
 * one pass over the text, however many boxes it opens.
 */
export function lastBoxed(text: string): string | undefined {
  const closes = closingBraces(text);
  let last: string | undefined;
  for (const m of text.matchAll(BOX)) {
    const start = m.index + m[0].length;
    let content: string | undefined;
    if (text[start] === '{') {
      const close = closes.get(start);
      content = close === undefined ? undefined : text.slice(start + 1, close);
    } else if (m[1] === 'boxed' && m[2]) content = /^[^$\s]+/.exec(text.slice(start))?.[0];
    if (content?.trim()) last = content.trim();
  }
  return last;
}

/** For each `{` that is closed, the index of its `}`; escaped braces do not count. */
function closingBraces(text: string): Map<number, number> {
  const open: number[] = [];
  const closes = new Map<number, number>();
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '{') open.push(i);
    else if (text[i] === '}' && open.length > 0) closes.set(open.pop() as number, i);
  }
  return closes;
}

/** The last `#### x` whose x is a number: GSM8K's final-answer line, not a markdown heading. */
function gsmAnswer(text: string): string | undefined {
  let last: string | undefined;
  for (const m of text.matchAll(GSM_MARKER)) {
    const content = m[1].trim();
    if (readAnswer(content).value) last = content;
  }
  return last;
}

/** What follows the last non-empty `Answer:` / `answer is`, up to the end of its line or sentence. */
function markedAnswer(text: string): string | undefined {
  let last: string | undefined;
  for (const m of text.matchAll(MARKER)) {
    const content = m[1].split(/\.(?:\s|$)/)[0].replace(/^[\s*]+|[\s*]+$/g, '');
    if (content) last = content;
  }
  return last;
}

/** An answer's canonical text, exact value if it is a plain number, and LaTeX for the engine. */
function readAnswer(answer: string): ReadAnswer {
  const text = stripNoise(answer);
  const value = parseRational(text.replace(UNITS, ''));
  const canonical = value ? (value.d === 1n ? `${value.n}` : `${value.n}/${value.d}`) : text;
  return { text: canonical, value, latex: text.replace(LATEX_UNITS, '') };
}

/** The answer with LaTeX and formatting noise removed and whitespace canonical. */
function stripNoise(s: string): string {
  return s
    .replace(/\u2212/g, '-')
    .replace(/(?<=\d)(?:\\,|\{,\})(?=\d{3})/g, (m) => (m === '{,}' ? ',' : ''))
    .replace(/\\[dt]frac(?![a-zA-Z])/g, '\\frac')
    .replace(TEXT_COMMANDS, ' $1 ')
    .replace(/\\(?:left|right|displaystyle)(?![a-zA-Z])|\\[,!;: ]|~|\\?\$|\\?%|\^\s*\{?\s*\\circ\s*\}?|\\circ|°/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/(?<![A-Za-z0-9]) | (?![A-Za-z0-9])/g, '')
    .replace(/^\*+|[*.]+$/g, '')
    .replace(/^[a-zA-Z](?:=|\\in(?![a-zA-Z]))/, '')
    .replace(/^\(([A-Z])\)$/, '$1');
}

/** The exact value of a whole numeric answer, or undefined if it is not one. */
function parseRational(s: string): Rational | undefined {
  let pos = 0;
  let depth = 0;
  const skip = () => {
    while (s[pos] === ' ') pos++;
  };
  const eat = (c: string) => {
    skip();
    if (!s.startsWith(c, pos)) return false;
    pos += c.length;
    return true;
  };
  // expr := signed ('/' signed)?
  const expr = (): Rational | undefined => {
    const num = signed();
    return num && eat('/') ? divide(num, signed()) : num;
  };
  // signed := ('-' | '+')? atom
  const signed = (): Rational | undefined => {
    const negative = eat('-');
    if (!negative) eat('+');
    const value = atom();
    return value && negative ? { n: -value.n, d: value.d } : value;
  };
  // atom := \frac arg arg | number | {expr} | (expr)
  const atom = (): Rational | undefined => {
    skip();
    if (eat('\\frac')) {
      const num = arg();
      return num && divide(num, arg());
    }
    if (eat('{')) return group('}');
    if (eat('(')) return group(')');
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(s);
    if (!m) return undefined;
    pos += m[0].length;
    return decimal(m[0]);
  };
  // arg := {expr} | digit
  const arg = (): Rational | undefined => {
    if (eat('{')) return group('}');
    return /\d/.test(s[pos] ?? '') ? { n: BigInt(s[pos++]), d: 1n } : undefined;
  };
  const group = (close: string) => {
    if (++depth > MAX_DEPTH) return undefined;
    const v = expr();
    depth--;
    return v && eat(close) ? v : undefined;
  };
  const value = expr();
  skip();
  return pos === s.length ? value : undefined;
}

/** `1,234.50e-1` as an exact rational; undefined if the exponent is out of range. */
function decimal(token: string): Rational | undefined {
  const [mantissa, exp = '0'] = token.replace(/,/g, '').split(/[eE]/);
  const [whole, frac = ''] = mantissa.split('.');
  if (Math.abs(Number(exp)) > MAX_EXPONENT) return undefined;
  const e = Number(exp) - frac.length;
  const digits = BigInt(`${whole}${frac}` || '0');
  return reduce(e >= 0 ? digits * 10n ** BigInt(e) : digits, e >= 0 ? 1n : 10n ** BigInt(-e));
}

/** `a / b` reduced; undefined when either is missing or `b` is zero. */
function divide(a: Rational | undefined, b: Rational | undefined): Rational | undefined {
  return a && b && b.n !== 0n ? reduce(a.n * b.d, a.d * b.n) : undefined;
}

/** `n / d` in lowest terms with a positive denominator. */
function reduce(n: bigint, d: bigint): Rational {
  const sign = d < 0n ? -1n : 1n;
  let [a, b] = [n < 0n ? -n : n, d < 0n ? -d : d];
  while (b !== 0n) [a, b] = [b, a % b];
  return { n: (sign * n) / a, d: (sign * d) / a };
}
