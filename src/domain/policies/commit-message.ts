import { InputError } from '../errors.js';

/** Trailers Regent writes itself, and review trailers a message must not forge. */
const RESERVED_TRAILER = /^(regent-[a-z-]+|signed-off-by|approved-by|reviewed-by|co-authored-by|acked-by)\s*:/im;

/**
 * A commit message from a request: 1 to 4,000 characters, no NUL, and no line that would read as one of
 * Regent's own trailers or a review trailer, since auditors trust those (the acting identity comes from
 * the verified token and is written by Regent).
 */
export function validateCommitMessage(message: unknown, field = 'message'): string {
  if (typeof message !== 'string' || message.trim().length === 0) {
    throw new InputError('invalid_message', `'${field}' is required: say why the change is made`, { field });
  }
  if (message.length > 4000) throw new InputError('invalid_message', `'${field}' is longer than 4,000 characters`, { field });
  if (message.includes('\0')) throw new InputError('invalid_message', `'${field}' contains a NUL character`, { field });
  const reserved = RESERVED_TRAILER.exec(message);
  if (reserved) {
    throw new InputError('invalid_message', `'${field}' contains a '${reserved[1]}:' line; Regent writes identity and review trailers itself`, { field });
  }
  return message.trim();
}
