import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { describe, expect, test } from 'vitest';
import { gitRemote, githubSignature, readTree } from '../helpers/git-remote.js';
import { buildDist, startRegentProcess } from '../helpers/regent-process.js';
import { EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const SECRET = 'webhook-secret-for-the-limit-tests';
const NEVER = '0 0 1 1 *';
/** Just under the default webhook body limit (5 MiB), like a forged delivery would be. */
const LARGE = Buffer.alloc(4.9 * 1024 * 1024, 0x61);

interface Answer {
  status: number;
  code?: string;
  retryAfter?: string;
  /** The connection failed before an answer came (the server may cut an upload it refused). */
  error?: string;
}

interface WebhookCounts {
  accepted: number;
  duplicate: number;
  refused: number;
  busy: number;
  tooLarge: number;
  reading: number;
  peakReading: number;
}

/** One POST /hooks/git over node:http with exactly `headers` (Content-Length or chunked as given). */
function post(url: string, body: Buffer, headers: Record<string, string>, options: { chunked?: boolean } = {}): Promise<Answer> {
  const target = new URL('/hooks/git', url);
  return new Promise((resolve) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'Content-Type': 'application/json', ...(options.chunked ? {} : { 'Content-Length': String(body.length) }), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const code = res.headers['content-type']?.includes('json') && text ? (JSON.parse(text) as { code?: string }).code : undefined;
        resolve({ status: res.statusCode ?? 0, code, retryAfter: res.headers['retry-after'] });
      });
    });
    req.on('error', (error) => resolve({ status: 0, error: error.message }));
    // Regent answers 413 before reading the whole body and closes: the rest of the body's write can then
    // fail (ECONNRESET) after the answer was read, on a socket the request no longer listens to.
    req.on('socket', (socket) => socket.on('error', () => undefined));
    if (options.chunked) {
      // Streamed in pieces with no declared length: only the bytes read can tell the size.
      for (let offset = 0; offset < body.length; offset += 256 * 1024) req.write(body.subarray(offset, offset + 256 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

async function webhookCounts(url: string): Promise<WebhookCounts> {
  const status = (await (await fetch(`${url}/status`)).json()) as { mirror: { webhooks: WebhookCounts } };
  return status.mirror.webhooks;
}

function tally(answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const answer of answers) {
    const key = answer.error ? 'connection error' : `${answer.status} ${answer.code ?? ''}`.trim();
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('webhooks: refused before their bodies are read, and never more than a few read at once', () => {
  test('100 concurrent unsigned 4.9 MB posts, then 100 signed-but-wrong: refusals, at most 4 bodies buffered at once, memory bounded (child Regent)', async () => {
    const remote = await gitRemote(readTree(EXAMPLE_POLICIES));
    buildDist();
    const regent = startRegentProcess({
      dataDir: tempDirForTest(),
      env: { REGENT_REMOTE_URL: remote.dir, REGENT_WEBHOOK_SECRET: SECRET, REGENT_REMOTE_SYNC_SCHEDULE: NEVER },
    });
    const url = await regent.listening;
    const before = regent.memory();

    const unsigned = await Promise.all(Array.from({ length: 100 }, () => post(url, LARGE, {})));
    expect(tally(unsigned)).toEqual({ '401 webhook_signature_missing': 100 });
    let counts = await webhookCounts(url);
    expect(counts).toMatchObject({ refused: 100, reading: 0, peakReading: 0, accepted: 0 });

    const wrong = `sha256=${'0'.repeat(64)}`;
    const forged = await Promise.all(Array.from({ length: 100 }, () => post(url, LARGE, { 'X-Hub-Signature-256': wrong, 'X-GitHub-Delivery': randomUUID() })));
    const forgedTally = tally(forged);
    expect(Object.keys(forgedTally).sort()).toEqual(expect.arrayContaining(['401 webhook_signature_invalid']));
    expect((forgedTally['401 webhook_signature_invalid'] ?? 0) + (forgedTally['503 webhooks_busy'] ?? 0)).toBe(100);
    expect(forged.filter((answer) => answer.code === 'webhooks_busy').every((answer) => answer.retryAfter === '1')).toBe(true);
    counts = await webhookCounts(url);
    expect(counts.reading).toBe(0);
    expect(counts.peakReading).toBeGreaterThanOrEqual(1);
    expect(counts.peakReading).toBeLessThanOrEqual(4);
    expect(counts.busy).toBe(forgedTally['503 webhooks_busy'] ?? 0);
    expect(counts.refused).toBe(100 + (forgedTally['401 webhook_signature_invalid'] ?? 0));
    expect(counts.accepted).toBe(0);

    // At most 4 bodies of 5 MiB were ever held: the peak resident memory stays far from 100 of them (490 MB).
    const after = regent.memory();
    expect(after.hwmMiB - before.rssMiB).toBeLessThan(150);
    console.log(`webhook flood: RSS ${before.rssMiB} MiB before, ${after.rssMiB} MiB after, peak ${after.hwmMiB} MiB; unsigned ${JSON.stringify(tally(unsigned))}; signed-but-wrong ${JSON.stringify(forgedTally)}; peak bodies read at once ${counts.peakReading}`);

    // A real delivery still gets through.
    const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main' }));
    const good = await post(url, body, { 'X-Hub-Signature-256': githubSignature(body, SECRET), 'X-GitHub-Delivery': randomUUID() });
    expect(good.status).toBe(202);
  }, 180_000);

  test('a body over remote.webhookMaxBodyBytes is 413 whether its length is declared or streamed; a wrong GitLab token is refused unread', async () => {
    const remote = await gitRemote(readTree(EXAMPLE_POLICIES));
    const regent = await startTestRegent({ config: { remote: { url: remote.dir, webhookSecret: SECRET, syncSchedule: NEVER, webhookMaxBodyBytes: 1024 * 1024 } } });
    const big = Buffer.alloc(1024 * 1024 + 1, 0x61);
    const signature = githubSignature(big, SECRET);
    expect(await post(regent.url, big, { 'X-Hub-Signature-256': signature })).toMatchObject({ status: 413, code: 'body_too_large' });
    expect(await post(regent.url, big, { 'X-Hub-Signature-256': signature }, { chunked: true })).toMatchObject({ status: 413, code: 'body_too_large' });
    expect(await post(regent.url, big, { 'X-Gitlab-Token': `${SECRET}-wrong` })).toMatchObject({ status: 401, code: 'webhook_signature_invalid' });
    expect(await post(regent.url, big, { 'X-Gitea-Signature': 'not-hex' })).toMatchObject({ status: 401, code: 'webhook_signature_invalid' });
    const counts = await webhookCounts(regent.url);
    expect(counts).toMatchObject({ tooLarge: 2, refused: 2, peakReading: 1, reading: 0 });
    const small = Buffer.from('{"ref":"refs/heads/main"}');
    expect((await post(regent.url, small, { 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event-UUID': randomUUID() })).status).toBe(202);
  });

  test('slow senders that trickle a body are cut off at remote.webhookBodyTimeoutMs, freeing their slots for a real delivery', async () => {
    const remote = await gitRemote(readTree(EXAMPLE_POLICIES));
    const regent = await startTestRegent({ config: { remote: { url: remote.dir, webhookSecret: SECRET, syncSchedule: NEVER, webhookBodyTimeoutMs: 500 } } });
    const target = new URL('/hooks/git', regent.url);
    const closed: Array<Promise<void>> = [];
    for (let i = 0; i < 4; i++) {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': '1000', 'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}` } });
      closed.push(new Promise((done) => {
        req.on('error', () => done());
        req.on('close', () => done());
        req.on('response', (res) => {
          res.resume();
          res.on('close', () => done());
        });
      }));
      req.write('{"ref":');
    }
    // The four hold their slots (the global one and this address's) until the 500 ms deadline cuts them
    // off; without it they would hold them until the server's 30 s request timeout.
    const cut = await Promise.race([Promise.all(closed).then(() => 'cut off'), new Promise((done) => setTimeout(() => done('still held after 15 s'), 15_000))]);
    expect(cut).toBe('cut off');
    const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main' }));
    const good = await post(regent.url, body, { 'X-Hub-Signature-256': githubSignature(body, SECRET), 'X-GitHub-Delivery': randomUUID() });
    expect(good.status).toBe(202);
    expect((await webhookCounts(regent.url)).reading).toBe(0);
  });
});
