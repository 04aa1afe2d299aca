import { readFileSync, statSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadAdminTokenKey } from '../../src/keys/load-admin-token-key.js';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { writeAgentTokensFile } from '../helpers/agent-tokens.js';
import { silentLogger } from '../helpers/git-repo.js';
import { eventually, startOpaAgent, type OpaAgent } from '../helpers/opa-agent.js';
import { exitOf, spawnRegentProcess, waitUntilReady, type RegentProcess } from '../helpers/regent-process.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** One request on a connection of its own (so node:cluster hands it to the next worker), or over a Unix socket. */
function get(target: { url: string } | { socketPath: string }, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const where = 'url' in target ? { host: new URL(target.url).hostname, port: Number(new URL(target.url).port) } : { socketPath: target.socketPath };
    const req = request({ ...where, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, at: Date.now() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every JSON line the process logged. */
function logLines(regent: RegentProcess): Array<Record<string, unknown>> {
  return regent.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function adminOf(url: string, dataDir: string): AdminClient {
  const adminTokenKey = loadAdminTokenKey({ algorithms: ['HS256'] }, { dataDir, dev: true, logger: silentLogger() });
  return adminClient({ url, adminTokenKey }, { sub: 'workers-test', role: 'admin', name: 'Workers Test', email: 'workers@example.test' });
}

/** Commits a new package under rbac/ through the admin API; returns the new revision. */
async function commit(admin: AdminClient, name: string): Promise<string> {
  const head = ((await (await admin.get('/api/versions/head')).json()) as { revision: string }).revision;
  const response = await admin.put(`/api/policies/rbac/workers/${name}/policy.rego`, { content: `package rbac.workers.${name}\n\nn := 1\n`, message: `workers test: ${name}`, baseRevision: head });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { revision: string }).revision;
}

async function startWithWorkers(env: Record<string, string> = {}): Promise<{ regent: RegentProcess; url: string; dataDir: string }> {
  const dataDir = tempDirForTest('regent-workers-');
  const regent = spawnRegentProcess(dataDir, { env: { REGENT_WORKERS: '2', ...env } });
  const url = await regent.listening;
  await waitUntilReady(url);
  return { regent, url, dataDir };
}

describe('server.workers: bundle serving in worker processes', () => {
  test('REGENT_WORKERS=2 runs a primary and two workers; the admin API, /status, /metrics and the web view answer through them; SIGTERM stops all three', async () => {
    const { regent, url, dataDir } = await startWithWorkers();
    const status = (await (await fetch(`${url}/status`)).json()) as { workers: { configured: number; live: number; pids: number[] } };
    expect(status.workers).toMatchObject({ configured: 2, live: 2 });
    expect(status.workers.pids).toHaveLength(2);
    for (const pid of status.workers.pids) expect(parentOf(pid)).toBe(regent.child.pid);

    // The primary listens on a socket only Regent's user reaches.
    const socketPath = join(dataDir, 'run', 'primary.sock');
    expect(statSync(join(dataDir, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);

    // An admin write through a worker; the new revision is then served by every worker.
    const revision = await commit(adminOf(url, dataDir), 'through');
    for (let i = 0; i < 4; i++) {
      const bundle = await get({ url }, '/bundles/rbac');
      expect(bundle.status).toBe(200);
      expect(bundle.headers['x-regent-revision']).toBe(revision);
    }
    // What a worker passes on is answered exactly as the primary answers it.
    for (const path of ['/ui/', '/api/versions/head', '/api/openapi.json']) {
      const [viaWorker, direct] = [await get({ url }, path), await get({ socketPath }, path)];
      expect(viaWorker.status, path).toBe(direct.status);
      expect(viaWorker.headers['content-type'], path).toBe(direct.headers['content-type']);
      expect(viaWorker.body, path).toBe(direct.body);
    }

    // /metrics (answered by the primary) counts what the workers answered, as they report it each second.
    const etag = (await get({ url }, '/bundles/rbac')).headers.etag as string;
    for (let i = 0; i < 20; i++) expect((await get({ url }, '/bundles/rbac', { 'If-None-Match': etag })).status).toBe(304);
    const sampleOf = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? Number.NaN);
    await eventually(async () => {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      return sampleOf(metrics, /^regent_http_requests_total\{route="\/bundles\/:name",status="304"\} (\d+)$/m) >= 20
        && sampleOf(metrics, /^regent_http_requests_total\{route="\/bundles\/:name",status="200"\} (\d+)$/m) >= 5
        && sampleOf(metrics, /^regent_workers\{state="live"\} (\d+)$/m) === 2;
    }, 10_000, () => 'the workers\' answers never reached /metrics');

    regent.child.kill('SIGTERM');
    expect(await exitOf(regent)).toBe(0);
    for (const pid of status.workers.pids) await eventually(async () => !alive(pid), 5000, () => `worker ${pid} outlived the primary`);
  });

  test('a real OPA agent on each worker sees every commit; a worker killed with SIGKILL is replaced and the other worker\'s agent stays served', async () => {
    const names = ['agent-a', 'agent-b', 'agent-c', 'agent-d'];
    const tokens = writeAgentTokensFile(names.map((name) => ({ name })));
    const { regent, url, dataDir } = await startWithWorkers({ REGENT_AGENT_TOKENS_FILE: tokens.path });
    const verificationKey = readFileSync(join(dataDir, 'keys', 'regent.pub.pem'), 'utf8');
    /** The worker (id and pid) that sent `agent` its last full bundle. */
    const servedBy = (agent: string, revision?: string): { worker: number; pid: number; heldMs?: number } | undefined =>
      logLines(regent).filter((line) => line.agent === agent && line.status === 200 && line.worker !== undefined && (revision === undefined || line.revision === revision)).map((line) => ({ worker: line.worker as number, pid: line.pid as number, heldMs: line.heldMs as number | undefined })).at(-1);

    // Agents one by one until two of them are served by different workers (connections go round-robin).
    const agents = new Map<string, OpaAgent>();
    let pair: [string, string] | undefined;
    for (const name of names) {
      const agent = await startOpaAgent({ serviceUrl: url, bundles: ['rbac'], keyId: 'regent', verificationKey, longPollSeconds: 30, bearerToken: tokens.tokens[name] });
      await agent.waitUntilReady(30_000);
      agents.set(name, agent);
      await eventually(async () => servedBy(name) !== undefined, 5000);
      const other = [...agents.keys()].find((earlier) => servedBy(earlier)!.worker !== servedBy(name)!.worker);
      if (other) {
        pair = [other, name];
        break;
      }
    }
    expect(pair, 'two agents on two workers').toBeDefined();
    const [victim, survivor] = pair!;
    const admin = adminOf(url, dataDir);

    const first = await commit(admin, 'first');
    for (const name of pair!) await eventually(async () => (await agents.get(name)!.activeRevision('rbac')) === first, 15_000, () => `${name} never activated ${first}`);

    const killed = servedBy(victim)!;
    const kept = servedBy(survivor)!;
    process.kill(killed.pid, 'SIGKILL');
    await eventually(async () => {
      const status = (await (await fetch(`${url}/status`)).json()) as { workers: { live: number; replaced: number; pids: number[] } };
      return status.workers.live === 2 && status.workers.replaced === 1 && !status.workers.pids.includes(killed.pid);
    }, 20_000, () => 'the killed worker was not replaced');

    const second = await commit(admin, 'second');
    for (const name of pair!) await eventually(async () => (await agents.get(name)!.activeRevision('rbac')) === second, 20_000, () => `${name} never activated ${second}`);
    // The survivor's long poll, held across the kill on its own worker, is what brought it the commit.
    const delivered = servedBy(survivor, second);
    expect(delivered?.pid).toBe(kept.pid);
    expect(delivered?.heldMs).toBeGreaterThan(0);
    expect(regent.output()).toContain('worker replaced');
  });

  test('the per-agent limit on held long polls counts across workers (the primary counts), and a slot comes back when its poll ends', async () => {
    const tokens = writeAgentTokensFile([{ name: 'fleet' }]);
    const { url } = await startWithWorkers({ REGENT_AGENT_TOKENS_FILE: tokens.path, REGENT_AGENT_MAX_HELD_POLLS: '2' });
    const auth = { Authorization: `Bearer ${tokens.tokens.fleet}` };
    const etag = String((await get({ url }, '/bundles/rbac', auth)).headers.etag);
    const poll = (wait: number): Promise<Answer> => get({ url }, '/bundles/rbac', { ...auth, 'If-None-Match': etag, Prefer: `wait=${wait}` });
    // Two held polls on two connections (so on both workers), then a third: refused, whichever worker gets it.
    const held = [poll(3), poll(60)];
    held[1]!.catch(() => undefined); // still held when the test ends and Regent is killed
    await new Promise((done) => setTimeout(done, 500));
    const refused = await poll(60);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'too_many_held_polls', agent: 'fleet', limit: 2 });
    // The 3 s poll ends with a 304 and gives its slot back.
    expect((await held[0]!).status).toBe(304);
    const again = poll(1);
    expect((await again).status).toBe(304);
    const status = (await (await fetch(`${url}/status`)).json()) as { agents: { heldPolls: { refused: number; peakPerAgent: number } } };
    expect(status.agents.heldPolls).toMatchObject({ refused: 1, peakPerAgent: 2 });
  });

  test('no worker releases a long poll before every worker holds the new revision (one worker slow to take it in)', async () => {
    // Worker 1 takes 1.5 s to take in each revision; worker 2 is quick.
    const { regent, url, dataDir } = await startWithWorkers({ REGENT_TEST_PREPARE_DELAY: '1:1500' });
    const current = await get({ url }, '/bundles/rbac');
    const etag = String(current.headers.etag);
    // Long polls, each on its own connection, opened one after the other: node:cluster hands new
    // connections to the workers in turn, so both hold some.
    const polls: Array<Promise<Answer>> = [];
    for (let i = 0; i < 6; i++) {
      polls.push(get({ url }, '/bundles/rbac', { 'If-None-Match': etag, Prefer: 'wait=60' }));
      await new Promise((done) => setTimeout(done, 100));
    }
    await new Promise((done) => setTimeout(done, 300));

    const commitDone = commit(adminOf(url, dataDir), 'slow');
    // While the slow worker takes the revision in, no worker serves it yet (the quick one has staged it).
    await new Promise((done) => setTimeout(done, 700));
    const during = await Promise.all(Array.from({ length: 6 }, () => get({ url }, '/bundles/rbac')));
    const firstAnswer = await Promise.race(polls);
    // The moment any long poll is released, every worker knows the new revision: an agent that has it is
    // never sent the old one, whichever worker it asks.
    const newEtag = String(firstAnswer.headers.etag);
    const fresh = await Promise.all(Array.from({ length: 6 }, () => get({ url }, '/bundles/rbac', { 'If-None-Match': newEtag })));
    const revision = await commitDone;
    const answers = await Promise.all(polls);
    await new Promise((done) => setTimeout(done, 300));
    const after = await Promise.all(Array.from({ length: 6 }, () => get({ url }, '/bundles/rbac')));

    for (const answer of during) expect(answer.headers.etag).toBe(etag);
    expect(firstAnswer.status).toBe(200);
    expect(newEtag).not.toBe(etag);
    for (const answer of fresh) {
      expect(answer.status).toBe(304);
      expect(answer.headers.etag).toBe(newEtag);
    }
    for (const answer of [...answers, ...after]) {
      expect(answer.status).toBe(200);
      expect(answer.headers['x-regent-revision']).toBe(revision);
    }
    const lines = logLines(regent);
    const prepared = lines.filter((line) => line.msg === 'revision prepared' && line.revision === revision);
    expect(prepared.map((line) => line.worker).sort()).toEqual([1, 2]);
    const slowPrepared = prepared.find((line) => line.worker === 1)!.time as number;
    // Every long poll was answered after the slow worker took the revision in...
    for (const answer of answers) expect(answer.at).toBeGreaterThanOrEqual(slowPrepared);
    // ...though the quick worker had it 1.5 s earlier, and it held some of them.
    expect(slowPrepared - (prepared.find((line) => line.worker === 2)!.time as number)).toBeGreaterThanOrEqual(1000);
    const releasedBy = new Set(lines.filter((line) => line.msg === 'long-poll waiters released' && line.worker !== undefined).map((line) => line.worker));
    expect([...releasedBy].sort()).toEqual([1, 2]);
  });
  test('a worker that replaces one during a round stages the round\'s revision like the others: no agent is sent the older revision after the newer one', async () => {
    // Worker 1 takes 6 s to take in each revision; worker 2 is killed during the round and replaced.
    const { url, dataDir } = await startWithWorkers({ REGENT_TEST_PREPARE_DELAY: '1:6000' });
    const oldEtag = String((await get({ url }, '/bundles/rbac')).headers.etag);
    const status = (await (await fetch(`${url}/status`)).json()) as { workers: { pids: number[] } };
    // The admin request may travel through the worker about to be killed: its answer does not matter here.
    const commitDone = commit(adminOf(url, dataDir), 'replaced').catch(() => undefined);
    await new Promise((done) => setTimeout(done, 1500));
    process.kill(status.workers.pids[1]!, 'SIGKILL');
    // Fresh connections, alternating between the workers (the replacement among them), until every one
    // answers the new revision: once any sent it, none may send the old one again.
    const seen: string[] = [];
    await eventually(async () => {
      const answer = await Promise.race([get({ url }, '/bundles/rbac').catch(() => undefined), new Promise<undefined>((done) => setTimeout(() => done(undefined), 2000))]);
      if (answer?.status === 200) seen.push(String(answer.headers.etag));
      else seen.push(`(${answer?.status ?? 'none'})`);
      return seen.length >= 6 && seen.slice(-6).every((etag) => etag !== oldEtag && !etag.startsWith('('));
    }, 30_000, () => `etags seen: ${seen.join(' ')}`);
    await commitDone;
    const served = seen.filter((etag) => !etag.startsWith('('));
    const firstNew = served.findIndex((etag) => etag !== oldEtag);
    expect(firstNew, seen.slice(0, 30).join(' ')).toBeGreaterThan(0);
    expect(served.slice(firstNew).filter((etag) => etag === oldEtag).length, seen.slice(0, 30).join(' ')).toBe(0);
    const after = (await (await fetch(`${url}/status`)).json()) as { workers: { live: number; replaced: number } };
    expect(after.workers).toMatchObject({ live: 2, replaced: 1 });
  });
});
