/**
 * The one request shape the bundle fast path answers, read from raw bytes: a complete HTTP/1.1 `GET`
 * or `HEAD` of `/bundles/...`, no query, exactly one `Host`, at most one each of `If-None-Match`,
 * `Authorization`, `Prefer` (OPA always sends one; the bundle handler reads it, and one asking to
 * long-poll is not answered at once), `User-Agent` and `X-Request-Id` (for the log line), and nothing
 * that frames a body or changes the connection.
 *
 * The parser is deliberately narrower than HTTP: anything it does not recognise exactly (a header
 * line with obs-fold or a byte outside the field grammar, `HTTP/1.0`, a body, `Expect`, `Upgrade`,
 * `Connection` other than `keep-alive`, a duplicate of a header it reads) is "not plain", and the
 * caller hands the untouched bytes to node:http, which parses them as it always does. So the two
 * parsers never disagree on where a request ends: without `Content-Length` and `Transfer-Encoding`, a
 * GET ends at its blank line for both.
 */
export interface PlainRequestHead {
  method: 'GET' | 'HEAD';
  /** The request target as sent (percent-escapes not decoded), starting with `/bundles/`. */
  target: string;
  ifNoneMatch: string | undefined;
  authorization: string | undefined;
  prefer: string | undefined;
  userAgent: string | undefined;
  requestId: string | undefined;
}

/** Request targets the fast path takes: origin-form under `/bundles/`, no query or fragment. */
const TARGET = /^\/bundles\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]+$/;
/** RFC 9110 `token` (a field name). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value after the optional whitespace around it is removed: visible ASCII, inner SP/HTAB. */
const FIELD_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/;
const VERSION_SUFFIX = ' HTTP/1.1';

/** Headers read for the answer (at most one of each). */
type ReadHeader = 'if-none-match' | 'authorization' | 'prefer' | 'user-agent' | 'x-request-id';
const READ_HEADERS: ReadonlySet<string> = new Set<ReadHeader>(['if-none-match', 'authorization', 'prefer', 'user-agent', 'x-request-id']);

/**
 * Headers whose presence takes the request off the fast path, lower-cased. `Proxy-Connection` is one
 * because node:http's parser reads it as `Connection` (`Proxy-Connection: close` closes the connection).
 */
const NOT_PLAIN = new Set(['content-length', 'transfer-encoding', 'expect', 'upgrade', 'te', 'trailer', 'http2-settings', 'keep-alive', 'proxy-connection']);
/**
 * The most header lines read here. node:http keeps the first 2000 headers (`maxHeadersCount`) and
 * ignores the rest, so a head with more could be read differently; OPA sends fewer than ten.
 */
const MAX_HEADER_LINES = 100;

/**
 * The plain request in `head` (the bytes before the blank line, as latin1, without the final CRLF
 * CRLF), or undefined when it is anything else.
 */
export function parsePlainRequestHead(head: string): PlainRequestHead | undefined {
  const lineEnd = head.indexOf('\r\n');
  if (lineEnd < 0) return undefined;
  const method = head.startsWith('GET ') ? 'GET' : head.startsWith('HEAD ') ? 'HEAD' : undefined;
  if (!method) return undefined;
  const requestLine = head.slice(0, lineEnd);
  if (!requestLine.endsWith(VERSION_SUFFIX)) return undefined;
  const target = requestLine.slice(method.length + 1, requestLine.length - VERSION_SUFFIX.length);
  if (!TARGET.test(target)) return undefined;

  let hosts = 0;
  const read: Record<ReadHeader, string | undefined> = { 'if-none-match': undefined, authorization: undefined, prefer: undefined, 'user-agent': undefined, 'x-request-id': undefined };
  let position = lineEnd + 2;
  let lines = 0;
  while (position < head.length) {
    if (++lines > MAX_HEADER_LINES) return undefined;
    let end = head.indexOf('\r\n', position);
    if (end < 0) end = head.length;
    const colon = head.indexOf(':', position);
    if (colon <= position || colon >= end) return undefined;
    const name = head.slice(position, colon);
    if (!TOKEN.test(name)) return undefined;
    let valueStart = colon + 1;
    let valueEnd = end;
    while (valueStart < valueEnd && isWhitespace(head.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isWhitespace(head.charCodeAt(valueEnd - 1))) valueEnd--;
    const value = head.slice(valueStart, valueEnd);
    if (!FIELD_VALUE.test(value)) return undefined;
    position = end + 2;
    const lower = name.toLowerCase();
    if (lower === 'host') hosts++;
    else if (READ_HEADERS.has(lower)) {
      const known = lower as ReadHeader;
      if (read[known] !== undefined) return undefined;
      read[known] = value;
    } else if (lower === 'connection') {
      if (value.toLowerCase() !== 'keep-alive') return undefined;
    } else if (NOT_PLAIN.has(lower)) return undefined;
  }
  if (hosts !== 1 || read['if-none-match'] === '') return undefined;
  return { method, target, ifNoneMatch: read['if-none-match'], authorization: read.authorization, prefer: read.prefer, userAgent: read['user-agent'], requestId: read['x-request-id'] };
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
