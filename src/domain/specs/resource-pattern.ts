/**
 * Resource patterns of role specs, matched the way S3 users know from IAM policies: `*` matches any run
 * of characters (none included, `/` included), `?` exactly one character, and every other character
 * only itself (`.`, `+`, `[`, `{`, `\` have no special meaning). The whole resource must match.
 * "Character" means a Unicode code point, as in OPA's regular expressions.
 */

/** How a pattern is compiled: an exact name, a prefix (one trailing `*`), anything (`*`), or a general pattern. */
export type PatternShape =
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'any' }
  | { kind: 'pattern'; regex: string };

/** The most direct test for a pattern: equality, a prefix, any string, or an anchored regular expression. */
export function patternShape(pattern: string): PatternShape {
  const wild = /[*?]/;
  if (!wild.test(pattern)) return { kind: 'exact', value: pattern };
  if (/^\*+$/.test(pattern)) return { kind: 'any' };
  const stars = /\*+$/.exec(pattern);
  if (stars && !wild.test(pattern.slice(0, stars.index))) return { kind: 'prefix', prefix: pattern.slice(0, stars.index) };
  return { kind: 'pattern', regex: patternRegex(pattern) };
}

/**
 * The pattern as an RE2 expression (OPA's `regex.match`): anchored at both ends, `(?s)` so that `.`
 * also matches a line break, every character but `*` and `?` quoted like Go's `regexp.QuoteMeta`.
 */
export function patternRegex(pattern: string): string {
  let out = '';
  let previous = '';
  for (const char of pattern) {
    if (char === '*') out += previous === '*' ? '' : '.*';
    else if (char === '?') out += '.';
    else out += /[\\.+*?()|[\]{}^$]/.test(char) ? `\\${char}` : char;
    previous = char;
  }
  return `(?s)^${out}$`;
}

/**
 * Whether `value` matches `pattern`, decided directly (no regular expression): the reference the
 * compiled Rego is tested against. Linear in practice: on a mismatch it retries from the last `*` only.
 */
export function matchesPattern(pattern: string, value: string): boolean {
  const p = Array.from(pattern);
  const v = Array.from(value);
  let pi = 0;
  let vi = 0;
  let star = -1;
  let resume = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === v[vi]))) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Why a string cannot be a resource pattern, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'is empty';
  if (pattern.length > 1024) return 'is longer than 1024 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return 'contains a control character';
  if (pattern.startsWith('/')) return "starts with '/': resources are '<bucket>/<key>', so it could never match";
  return undefined;
}
