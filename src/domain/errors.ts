/**
 * Typed domain errors. They carry a stable snake_case `code` and structured `details`, never an HTTP
 * status: `src/http/error-handler.ts` is the one place that maps them to responses. Every error code
 * thrown here is listed in `docs/errors.md`.
 */
export interface ErrorDetails {
  /** Request field, header or config key the error is about. */
  field?: string;
  /** Repository file the error is about. */
  file?: string;
  /** 1-based line (and column) in `file`. */
  line?: number;
  column?: number;
  [key: string]: unknown;
}

export abstract class RegentError extends Error {
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** The caller sent something invalid: a field, header, file or line names what. */
export class InputError extends RegentError {}

/** The named thing does not exist. */
export class NotFoundError extends RegentError {}

/** The write was based on a revision that is no longer head. `details.head` names the current one. */
export class ConflictError extends RegentError {}

/** A precondition header (If-Match) did not hold. */
export class PreconditionFailedError extends RegentError {}

/** A write did not say which revision it was based on (If-Match or baseRevision). */
export class PreconditionRequiredError extends RegentError {}

/** The request body is larger than the endpoint takes (declared or as read). */
export class PayloadTooLargeError extends RegentError {}

/** The request body has a media type the endpoint does not take. */
export class UnsupportedMediaTypeError extends RegentError {}

/** No valid credentials. */
export class AuthenticationError extends RegentError {}

/** Valid credentials without the right to do this. */
export class NotAllowedError extends RegentError {}

/** The client took too long to send what it must (a request body that trickles in). */
export class RequestTimeoutError extends RegentError {}

/** The service cannot answer yet (no active revision, a dependency is down); retry later. */
export class UnavailableError extends RegentError {}

/** The request is well-formed but names something that cannot be used for it (a revision outside the tracked history). */
export class UnprocessableError extends RegentError {}

/** A policy revision cannot be turned into bundles (bad data, roots, signing, verification). */
export class BuildError extends RegentError {}

export function isRegentError(error: unknown): error is RegentError {
  return error instanceof RegentError;
}
