import { InputError } from '../domain/errors.js';
import type { Identity } from '../domain/store/policy-store.js';

/**
 * Validation of everything a caller can put into a git argv or object. Values that pass are still
 * placed after `--end-of-options` (revisions) or `--` (paths); validation is what keeps a value from
 * ever *being* an option, a revision expression (`a..b`, `HEAD~1`, `@{-1}`) or a path outside the tree.
 */

const SHA_PATTERN = /^[0-9a-f]{40}$/;
const MAX_PATH_BYTES = 255;
const MAX_REF_BYTES = 255;

/** True for a full, lower-case SHA-1 object id. */
export function isSha(value: unknown): boolean {
  return typeof value === 'string' && SHA_PATTERN.test(value);
}

/**
 * The rules of `git check-ref-format --allow-onelevel`, plus: no leading `-`, at most 255 bytes.
 * Implemented here (and cross-checked against git in the tests) so that validating a name costs no
 * process.
 */
export function isValidRefName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0) return false;
  if (Buffer.byteLength(name) > MAX_REF_BYTES) return false;
  if (name.startsWith('-') || name === '@') return false;
  if (name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  if (name.includes('..') || name.includes('//') || name.includes('@{')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((component) => !component.startsWith('.') && !component.endsWith('.lock'));
}

/** A branch name for the tracked branch: a valid ref name that is not itself a `refs/...` path or `HEAD`. */
export function isValidBranchName(name: unknown): name is string {
  return isValidRefName(name) && !name.startsWith('refs/') && name !== 'HEAD';
}

/**
 * Accepts a revision as given by a caller: a full SHA or a ref name. Throws `InputError`
 * (`invalid_revision`, `details.field`) for anything else, before git is ever called.
 */
export function assertRevisionInput(value: unknown, field = 'revision'): asserts value is string {
  if (isSha(value) || isValidRefName(value)) return;
  throw new InputError('invalid_revision', `'${printable(value)}' is not a revision (hint: use a 40-character commit SHA, a branch or tag name, or 'head')`, { field });
}

/**
 * A repository-relative file path: no leading `/`, no empty, `.`, `..` or `.git` segments, no NUL,
 * backslash or control characters, at most 255 bytes. Throws `InputError` (`invalid_path`) naming the
 * field.
 */
export function assertPolicyPath(path: unknown, field = 'path'): asserts path is string {
  const problem = pathProblem(path);
  if (problem !== undefined) {
    throw new InputError('invalid_path', `'${printable(path)}' is not a valid file path: ${problem}`, { field });
  }
}

function pathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'it is empty';
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `it is longer than ${MAX_PATH_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(path)) return 'it contains a control character or backslash';
  if (path.startsWith('/')) return 'it must be relative to the repository root';
  for (const segment of path.split('/')) {
    if (segment === '') return 'it contains an empty segment';
    if (segment === '.' || segment === '..') return `it contains a '${segment}' segment`;
    if (segment.toLowerCase() === '.git') return "it contains a '.git' segment";
  }
  return undefined;
}

// Characters git strips from both ends of a name or email: a value starting or ending with one would
// be silently rewritten (`Eve.` becomes `Eve`), so it is refused instead.
const GIT_CRUD = new Set(['.', ',', ':', ';', '<', '>', '"', '\\', "'"]);

/**
 * An author or committer identity git will store exactly as given: non-empty name and email of at most
 * 256 characters, without `<`, `>`, control characters, or leading/trailing characters git would strip.
 * Throws `InputError` (`invalid_identity`) naming the field.
 */
export function assertIdentity(identity: unknown, field: string): asserts identity is Identity {
  const value = identity as Partial<Identity> | null | undefined;
  for (const part of ['name', 'email'] as const) {
    const text = value?.[part];
    const problem = identityProblem(text);
    if (problem !== undefined) {
      throw new InputError('invalid_identity', `${field} ${part} ${problem}`, { field });
    }
  }
}

function identityProblem(text: unknown): string | undefined {
  if (typeof text !== 'string' || text.length === 0) return 'is missing';
  if (text.length > 256) return 'is longer than 256 characters';
  // eslint-disable-next-line no-control-regex
  if (/[<>\x00-\x1f\x7f]/.test(text)) return 'contains <, > or a control character';
  const ends = [text[0] ?? '', text[text.length - 1] ?? ''];
  if (ends.some((c) => c <= ' ' || GIT_CRUD.has(c))) {
    return 'starts or ends with whitespace or punctuation git would strip';
  }
  return undefined;
}

/** A value safe to quote in an error message: truncated, control characters escaped. */
export function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  // eslint-disable-next-line no-control-regex
  return JSON.stringify(text.slice(0, 120)).slice(1, -1).replace(/[\x00-\x1f]/g, '?');
}
