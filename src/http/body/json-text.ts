import { isUtf8 } from 'node:buffer';
import { InputError } from '../../domain/errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const LOWER_U = 0x75;
const COMMA = 0x2c;
const COLON = 0x3a;

/** A limit on the JSON values (and object keys) a body may hold, and the error to give beyond it. */
export interface JsonValueLimit {
  max: number;
  /** The refusal (a 413 naming the setting) for a body holding more than `max`. */
  refuse: (max: number) => Error;
}

/**
 * Reads a JSON request body: UTF-8 (RFC 8259 §8.1), nested at most `maxDepth` arrays and objects deep,
 * an object or an array at the top. Checked on the bytes before `JSON.parse`, in one iterative pass
 * (no recursion: a hostile depth costs one counter, never the stack), so what reaches a handler can be
 * walked, stringified and handed to OPA safely. `InputError`s: `invalid_utf8` (bytes that are not
 * UTF-8, or an escaped surrogate that names no character, `"\ud800"`, which no UTF-8 file can hold),
 * `json_too_deep` (with `limit` and the byte `offset`), `invalid_json`. With `maxValues`, the values and
 * keys are counted in the same pass and a body holding more is refused before it is parsed: parsing
 * costs memory per value (an empty object costs tens of bytes of heap for its 3 bytes of text), so
 * the byte limits alone do not bound it.
 */
export function parseJsonBody(bytes: Buffer, maxDepth: number, maxValues?: JsonValueLimit): unknown {
  // An empty body with a length (chunked, or Content-Length: 0 and a Content-Type) is an empty object, as before.
  if (bytes.length === 0) return {};
  if (!isUtf8(bytes)) throw new InputError('invalid_utf8', 'the request body is not valid UTF-8 (hint: send JSON as UTF-8, without a charset or with charset=utf-8)', { field: 'body' });
  checkStructure(bytes, maxDepth, maxValues);
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') throw new InputError('invalid_json', 'the request body must be a JSON object or array', { field: 'body' });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError('invalid_json', `the request body is not JSON: ${(error as Error).message.slice(0, 200)}`, { field: 'body' }, { cause: error });
  }
}

/**
 * One pass over the bytes outside and inside strings: counts open brackets (those inside strings are
 * content), and checks `\u` escapes for unpaired surrogates. Malformed JSON is left for `JSON.parse`.
 * The structural characters are ASCII, which never occurs inside a multi-byte UTF-8 sequence. With a
 * value limit, counts every value and key: each token that starts after `[`, `{`, `,`, `:` or at the start.
 */
function checkStructure(bytes: Buffer, maxDepth: number, maxValues: JsonValueLimit | undefined): void {
  let depth = 0;
  let inString = false;
  let values = 0;
  let startsToken = true;
  const limit = maxValues?.max ?? Infinity;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (!inString && startsToken && byte !== CLOSE_ARRAY && byte !== CLOSE_OBJECT && !isWhitespace(byte)) {
      startsToken = false;
      if (++values > limit) throw maxValues!.refuse(limit);
    }
    if (inString) {
      if (byte === QUOTE) {
        inString = false;
      } else if (byte === BACKSLASH) {
        if (bytes[i + 1] === LOWER_U) i = checkSurrogate(bytes, i);
        else i++;
      }
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      startsToken = true;
      if (++depth > maxDepth) {
        throw new InputError('json_too_deep', `the request body nests arrays and objects deeper than ${maxDepth} levels (at byte ${i}; http.maxJsonDepth)`, { field: 'body', limit: maxDepth, offset: i });
      }
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
      startsToken = false;
    } else if (byte === COMMA || byte === COLON) {
      startsToken = true;
    }
  }
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** At a `\u` escape (index of the backslash): returns the index of its last character; throws on an unpaired surrogate. */
function checkSurrogate(bytes: Buffer, at: number): number {
  const unit = hexUnit(bytes, at + 2);
  if (unit === undefined || unit < 0xd800 || unit > 0xdfff) return at + 5;
  if (unit <= 0xdbff && bytes[at + 6] === BACKSLASH && bytes[at + 7] === LOWER_U) {
    const low = hexUnit(bytes, at + 8);
    if (low !== undefined && low >= 0xdc00 && low <= 0xdfff) return at + 11;
  }
  throw new InputError('invalid_utf8', `the request body escapes an unpaired surrogate (\\u${unit.toString(16)} at byte ${at}): it names no character and cannot be stored as UTF-8`, { field: 'body', offset: at });
}

function hexUnit(bytes: Buffer, at: number): number | undefined {
  if (at + 4 > bytes.length) return undefined;
  const digits = bytes.toString('latin1', at, at + 4);
  return /^[0-9A-Fa-f]{4}$/.test(digits) ? Number.parseInt(digits, 16) : undefined;
}
