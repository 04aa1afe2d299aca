import type { RequestHandler } from 'express';
import { InputError } from '../domain/errors.js';

/**
 * The decoded form of a request path, or undefined when a percent-escape in it does not decode: `%`
 * not followed by two hex digits, or escaped bytes that are not UTF-8 (`%ff`, overlong `%c0%af`, a
 * surrogate `%ed%a0%80`). Paths without `%` are returned as they are, without work.
 */
export function decodePath(path: string): string | undefined {
  if (!path.includes('%')) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/** The one error for a path that does not decode: 400 `invalid_path_encoding`. */
export function invalidPathEncoding(path: string): InputError {
  return new InputError('invalid_path_encoding', `the path ${JSON.stringify(path.slice(0, 200))} has a malformed percent-escape (each % must be followed by two hex digits, and the escaped bytes must be UTF-8)`, { field: 'path' });
}

/**
 * Refuses a request whose path does not decode before any route sees it, so no router has to decode
 * it (Express's parameter decoding throws on `%ff`, which answered 500). Known and unknown paths alike
 * get 400 `invalid_path_encoding`: the answer says nothing about which routes exist.
 */
export const rejectMalformedPaths: RequestHandler = (req, _res, next) => {
  next(decodePath(req.path) === undefined ? invalidPathEncoding(req.path) : undefined);
};
