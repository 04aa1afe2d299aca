import type { ServerResponse } from 'node:http';

/** An RFC 9457 problem document; `code` is Regent's stable error code (docs/errors.md). */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Writes a problem response on a bare node:http response (the bundle path has no Express). */
export function writeProblem(res: ServerResponse, problem: Problem, headers: Record<string, string> = {}): number {
  const body = Buffer.from(JSON.stringify({ type: problem.type ?? `https://regent.dev/errors/${problem.code}`, ...problem }));
  res.writeHead(problem.status, { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Content-Length': body.length, 'Cache-Control': 'no-store', ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
  return body.length;
}
