import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  AuthenticationError, BuildError, ConflictError, InputError, NotAllowedError, NotFoundError, PayloadTooLargeError,
  PreconditionFailedError, PreconditionRequiredError, RegentError, RequestTimeoutError, UnavailableError, UnprocessableError, UnsupportedMediaTypeError,
} from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { PROBLEM_CONTENT_TYPE, type Problem } from './problem.js';

const STATUS_BY_CLASS: ReadonlyArray<[new (...args: never[]) => RegentError, number, string]> = [
  [InputError, 400, 'Invalid request'],
  [AuthenticationError, 401, 'Authentication required'],
  [NotAllowedError, 403, 'Not allowed'],
  [NotFoundError, 404, 'Not found'],
  [RequestTimeoutError, 408, 'Request timeout'],
  [ConflictError, 409, 'Conflict'],
  [PreconditionFailedError, 412, 'Precondition failed'],
  [PayloadTooLargeError, 413, 'Body too large'],
  [UnsupportedMediaTypeError, 415, 'Unsupported media type'],
  [PreconditionRequiredError, 428, 'Precondition required'],
  [BuildError, 422, 'Policy cannot be built'],
  [UnprocessableError, 422, 'Unprocessable request'],
  [UnavailableError, 503, 'Unavailable'],
];

/** body-parser's error types, mapped to the status and code they deserve. */
const BODY_PARSER_ERRORS: Readonly<Record<string, [number, string]>> = {
  'entity.too.large': [413, 'body_too_large'],
  'encoding.unsupported': [415, 'unsupported_encoding'],
  'charset.unsupported': [415, 'unsupported_charset'],
  'entity.parse.failed': [400, 'invalid_json'],
  'entity.verify.failed': [400, 'invalid_body'],
  'request.aborted': [400, 'request_aborted'],
  'request.size.invalid': [400, 'invalid_body'],
  'stream.encoding.set': [500, 'internal_error'],
};

/** Turns any error into a problem document: the one mapping from domain errors to HTTP. */
export function toProblem(error: unknown): Problem {
  if (error instanceof RegentError) {
    const [, status, title] = STATUS_BY_CLASS.find(([type]) => error instanceof type) ?? [RegentError, 500, 'Internal error'];
    return { status, code: error.code, title, detail: error.message, ...error.details };
  }
  // The router decodes path parameters itself and throws URIError (status 400) for `%ff`: bad input.
  if (error instanceof URIError && (error as { status?: unknown }).status === 400) {
    return { status: 400, code: 'invalid_path_encoding', title: 'Invalid request', detail: 'the path has a malformed percent-escape', field: 'path' };
  }
  const type = (error as { type?: unknown })?.type;
  if (typeof type === 'string' && BODY_PARSER_ERRORS[type]) {
    const [status, code] = BODY_PARSER_ERRORS[type];
    return { status, code, title: status === 413 ? 'Body too large' : 'Invalid body', detail: (error as Error).message };
  }
  // A compressed body that does not inflate (zlib's or brotli's errors, passed on by the body reader).
  const zlibCode = (error as { code?: unknown })?.code;
  if (typeof zlibCode === 'string' && /^(Z_|ERR__ERROR_|ERR_BROTLI)/.test(zlibCode)) {
    return { status: 400, code: 'invalid_encoding', title: 'Invalid body', detail: `the request body does not decompress as its Content-Encoding says (${zlibCode})`, field: 'Content-Encoding' };
  }
  // Any other client error the HTTP stack marked as safe to show (http-errors: 4xx with expose).
  const status = (error as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && (error as { expose?: unknown }).expose === true) {
    return { status: 400, code: 'invalid_body', title: 'Invalid body', detail: String((error as Error).message ?? '').slice(0, 300) };
  }
  return { status: 500, code: 'internal_error', title: 'Internal error', detail: 'an unexpected error occurred; see the server log' };
}

export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const problem = toProblem(error);
    // Webhooks are authenticated by the Git host's signature, not a bearer token: no Bearer challenge for them.
    if (error instanceof AuthenticationError && !error.code.startsWith('webhook_')) res.setHeader('WWW-Authenticate', bearerChallenge(error));
    // A service that is busy says when to come back (`details.retryAfterSeconds`).
    if (typeof problem.retryAfterSeconds === 'number') res.setHeader('Retry-After', String(problem.retryAfterSeconds));
    if (problem.status >= 500 && problem.status !== 503) logger.error({ err: error, reqId: res.locals.reqId, method: req.method, url: req.originalUrl }, 'request failed');
    else if (problem.status === 503) logger.warn({ code: problem.code, reqId: res.locals.reqId, method: req.method, url: req.originalUrl }, 'request refused: unavailable');
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).json({ type: `https://regent.dev/errors/${problem.code}`, ...problem });
  };
}

/** RFC 6750 §3: the Bearer challenge of a 401; `error="invalid_token"` only when a token was presented. */
export function bearerChallenge(error: AuthenticationError): string {
  if (error.code === 'token_missing' || error.code === 'agent_token_missing') return 'Bearer realm="regent"';
  const description = error.message.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '');
  return `Bearer realm="regent", error="invalid_token", error_description="${description}"`;
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError('route_not_found', `no route for ${req.method} ${req.path.slice(0, 200)}`));
};
