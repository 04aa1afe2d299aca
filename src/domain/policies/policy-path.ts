import { InputError } from '../errors.js';

const DIRECTORY = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const MODULE = /^[a-z0-9][a-z0-9_-]{0,62}\.rego$/;
const SPEC = /^[a-z0-9][a-z0-9_-]{0,62}\.policy\.yaml$/;
const DATA = new Set(['data.json', 'data.yaml']);
const MAX_DEPTH = 8;

/**
 * The allow-list for paths written through the API, checked on the decoded string before anything
 * touches git: lower-case segments of letters, digits, `_` and `-` (so no `..`, no `.git`, no leading
 * `-`, no empty segment, no control or non-ASCII characters, whatever the encoding was), at most eight
 * deep, ending in a `.rego` module, a `data.json`/`data.yaml` document, a `<name>.policy.yaml` role spec,
 * or the root `regent.yaml`.
 */
export function validateWritablePath(path: unknown, field = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw new InputError('invalid_path', `'${field}' must be a non-empty path`, { field });
  const shown = JSON.stringify(path.slice(0, 120));
  if (path.length > 255) throw new InputError('invalid_path', `path ${shown} is longer than 255 characters`, { field });
  if (path === 'regent.yaml') return path;
  const segments = path.split('/');
  if (segments.length > MAX_DEPTH) throw new InputError('invalid_path', `path ${shown} is more than ${MAX_DEPTH} levels deep`, { field });
  const file = segments[segments.length - 1]!;
  for (const segment of segments.slice(0, -1)) {
    if (!DIRECTORY.test(segment)) {
      throw new InputError('invalid_path', `path ${shown}: directory '${segment.slice(0, 64)}' must be lower-case letters, digits, '_' or '-' and start with a letter or digit`, { field });
    }
  }
  if (!MODULE.test(file) && !SPEC.test(file) && !DATA.has(file)) {
    throw new InputError('invalid_path', `path ${shown}: the file must be a lower-case '<name>.rego' module, a '<name>.policy.yaml' role spec, 'data.json', 'data.yaml' or the root 'regent.yaml'`, { field });
  }
  return path;
}

/** Paths read through the API only need to be safe to look up: existing files of any name. */
export function validateReadablePath(path: unknown, field = 'path'): string {
  if (typeof path !== 'string' || path.length === 0 || path.length > 1024) throw new InputError('invalid_path', `'${field}' must be a path of 1 to 1024 characters`, { field });
  const segments = path.split('/');
  // eslint-disable-next-line no-control-regex
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..' || /[\x00-\x1f\x7f\\]/.test(segment))) {
    throw new InputError('invalid_path', `path ${JSON.stringify(path.slice(0, 120))} has an empty, '.', '..' or control-character segment`, { field });
  }
  return path;
}
