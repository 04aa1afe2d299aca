import express, { type RequestHandler } from 'express';
import { UnsupportedMediaTypeError } from '../../domain/errors.js';
import { parseJsonBody } from './json-text.js';

/** The limits every JSON request body is held to (`api.maxBodyBytes` / `fleet.maxReportBytes`, `http.maxJsonDepth`). */
export interface JsonBodyLimits {
  maxBytes: number;
  maxDepth: number;
}

export interface JsonBodyOptions extends JsonBodyLimits {
  /**
   * Accept gzip/deflate/br bodies (the decompressed size counts against `maxBytes`). Otherwise any
   * `Content-Encoding` but `identity` is 415 `unsupported_encoding` (no gzip bombs).
   */
  inflate?: boolean;
  /** Refuse bodies that are not `application/json` with 415 `unsupported_media_type` (OPA's status reports send none). */
  requireJsonType?: boolean;
}

/**
 * The one JSON body parser of every route that takes JSON: size-capped before buffering (413
 * `body_too_large`), UTF-8 only (415 `unsupported_charset` for any other declared charset, 400
 * `invalid_utf8` for bytes that are not UTF-8: a body is never decoded as something else, nor with
 * U+FFFD replacements), and at most `maxDepth` levels deep (400 `json_too_deep`), checked before
 * `JSON.parse`. Leaves `req.body` undefined when there is no body.
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler[] {
  const { maxBytes, maxDepth, inflate = false, requireJsonType = true } = options;
  const precheck: RequestHandler = (req, _res, next) => {
    const encoding = req.headers['content-encoding'];
    if (!inflate && encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      next(new UnsupportedMediaTypeError('unsupported_encoding', 'send the request body without Content-Encoding (compressed bodies are not accepted)', { field: 'Content-Encoding' }));
      return;
    }
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) {
      next();
      return;
    }
    if (requireJsonType && !req.is('application/json')) {
      next(new UnsupportedMediaTypeError('unsupported_media_type', 'send the request body as application/json', { field: 'Content-Type' }));
      return;
    }
    const charsets = charsetsOf(req.headers['content-type']);
    if (charsets.some((charset) => charset !== 'utf-8' && charset !== 'utf8') || charsets.length > 1) {
      next(new UnsupportedMediaTypeError('unsupported_charset', `request bodies are UTF-8 only: send no charset or charset=utf-8 (got ${charsets.map((charset) => JSON.stringify(charset.slice(0, 40))).join(', ')})`, { field: 'Content-Type' }));
      return;
    }
    next();
  };
  const read = express.raw({ type: () => true, limit: maxBytes, inflate });
  const parse: RequestHandler = (req, _res, next) => {
    if (!Buffer.isBuffer(req.body)) {
      req.body = undefined;
      next();
      return;
    }
    try {
      req.body = parseJsonBody(req.body, maxDepth);
      next();
    } catch (error) {
      next(error);
    }
  };
  return [precheck, read, parse];
}

const PARAMETER = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;

/** Every `charset` parameter of a Content-Type header, unquoted and lower-cased (none: the body is UTF-8). */
export function charsetsOf(contentType: string | undefined): string[] {
  if (contentType === undefined) return [];
  const charsets: string[] = [];
  for (const [, name, value] of contentType.matchAll(PARAMETER)) {
    if (name!.toLowerCase() !== 'charset') continue;
    const quoted = value!.length >= 2 && value!.startsWith('"') && value!.endsWith('"');
    charsets.push((quoted ? value!.slice(1, -1).replace(/\\(.)/g, '$1') : value!).trim().toLowerCase());
  }
  return charsets;
}
