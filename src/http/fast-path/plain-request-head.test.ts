import { describe, expect, test } from 'vitest';
import { parsePlainRequestHead } from './plain-request-head.js';

const ETAG = '"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"';
/** A head as the fast path cuts it: the bytes before the blank line. */
const head = (lines: string[]): string => lines.join('\r\n');
const opaPoll = [
  'GET /bundles/rbac HTTP/1.1',
  'Host: 127.0.0.1:8181',
  'User-Agent: Open Policy Agent/1.22.2 (linux, amd64)',
  'Authorization: Bearer agent-token-0123',
  `If-None-Match: ${ETAG}`,
  'Prefer: modes=snapshot,delta',
  'Accept-Encoding: gzip',
];

describe('parsePlainRequestHead', () => {
  test("reads OPA's periodic poll: method, target as sent, If-None-Match, Authorization and Prefer", () => {
    expect(parsePlainRequestHead(head(opaPoll))).toEqual({
      method: 'GET', target: '/bundles/rbac', ifNoneMatch: ETAG, authorization: 'Bearer agent-token-0123', prefer: 'modes=snapshot,delta', userAgent: 'Open Policy Agent/1.22.2 (linux, amd64)', requestId: undefined,
    });
  });

  test.each([
    ['HEAD', ['HEAD /bundles/rbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`], { method: 'HEAD' }],
    ['an environment and a percent-escape', ['GET /bundles/prod/team%2Frbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`], { target: '/bundles/prod/team%2Frbac' }],
    ['header names in any case, whitespace around values', ['GET /bundles/rbac HTTP/1.1', 'hOsT:x', `if-none-match: \t${ETAG} \t`], { ifNoneMatch: ETAG }],
    ['Connection: keep-alive in any case', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Connection: Keep-Alive', `If-None-Match: ${ETAG}`], { authorization: undefined, prefer: undefined }],
    ['a download: no If-None-Match, an X-Request-Id', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'X-Request-Id: abc-1'], { ifNoneMatch: undefined, requestId: 'abc-1' }],
    ['as many header lines as it reads', ['GET /bundles/rbac HTTP/1.1', 'Host: x', ...Array.from({ length: 98 }, () => 'a:b'), `If-None-Match: ${ETAG}`], { ifNoneMatch: ETAG }],
  ])('takes %s', (_name, lines, expected) => {
    expect(parsePlainRequestHead(head(lines))).toMatchObject(expected);
  });

  test.each([
    ['HTTP/1.0', ['GET /bundles/rbac HTTP/1.0', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['another method', ['POST /bundles/rbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['a lower-case method', ['get /bundles/rbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['two spaces in the request line', ['GET  /bundles/rbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['a query', ['GET /bundles/rbac?deltas=true HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['another path', ['GET /status HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['the absolute form', ['GET http://x/bundles/rbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['a space in the target', ['GET /bundles/r bac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`]],
    ['no headers', ['GET /bundles/rbac HTTP/1.1']],
    ['no Host', ['GET /bundles/rbac HTTP/1.1', `If-None-Match: ${ETAG}`]],
    ['two Hosts', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Host: y', `If-None-Match: ${ETAG}`]],
    ['an empty If-None-Match', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'If-None-Match: ']],
    ['two If-None-Match', ['GET /bundles/rbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`, `If-None-Match: ${ETAG}`]],
    ['two Authorization', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Authorization: Bearer a', 'Authorization: Bearer b', `If-None-Match: ${ETAG}`]],
    ['two User-Agent', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'User-Agent: a', 'User-Agent: b']],
    ['two X-Request-Id', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'X-Request-Id: a', 'X-Request-Id: b']],
    ['two Prefer', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Prefer: modes=snapshot', 'Prefer: wait=30', `If-None-Match: ${ETAG}`]],
    ['Content-Length', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Content-Length: 0', `If-None-Match: ${ETAG}`]],
    ['Transfer-Encoding', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', `If-None-Match: ${ETAG}`]],
    ['Expect', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Expect: 100-continue', `If-None-Match: ${ETAG}`]],
    ['Upgrade', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Upgrade: h2c', `If-None-Match: ${ETAG}`]],
    ['Connection: close', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Connection: close', `If-None-Match: ${ETAG}`]],
    ['Proxy-Connection (node:http reads it as Connection)', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Proxy-Connection: close', `If-None-Match: ${ETAG}`]],
    ['more header lines than it reads (node:http ignores those after 2000)', ['GET /bundles/rbac HTTP/1.1', 'Host: x', ...Array.from({ length: 100 }, () => 'a:b'), `If-None-Match: ${ETAG}`]],
    ['Connection: upgrade', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'Connection: keep-alive, Upgrade', `If-None-Match: ${ETAG}`]],
    ['obs-fold', ['GET /bundles/rbac HTTP/1.1', 'Host: x', `If-None-Match: ${ETAG}`, ' folded']],
    ['a space before the colon', ['GET /bundles/rbac HTTP/1.1', 'Host : x', `If-None-Match: ${ETAG}`]],
    ['a line without a colon', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'garbage', `If-None-Match: ${ETAG}`]],
    ['an empty header name', ['GET /bundles/rbac HTTP/1.1', 'Host: x', ': x', `If-None-Match: ${ETAG}`]],
    ['a bare LF', ['GET /bundles/rbac HTTP/1.1', 'Host: x\nX-Smuggle: 1', `If-None-Match: ${ETAG}`]],
    ['a bare CR', ['GET /bundles/rbac HTTP/1.1', 'Host: x\rX: 1', `If-None-Match: ${ETAG}`]],
    ['a NUL in a value', ['GET /bundles/rbac HTTP/1.1', 'Host: x\u0000', `If-None-Match: ${ETAG}`]],
    ['a byte above ASCII', ['GET /bundles/rbac HTTP/1.1', 'Host: x', 'X-Name: caf\u00e9', `If-None-Match: ${ETAG}`]],
  ])('leaves %s to node:http', (_name, lines) => {
    expect(parsePlainRequestHead(head(lines))).toBeUndefined();
  });
});
