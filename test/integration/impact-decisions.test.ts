import { describe, expect, test } from 'vitest';
import { compileTree, evaluableFiles } from '../../src/domain/candidates/compiled-tree.js';
import type { DecisionLog, DecisionPage, DecisionQuery, DecisionRecord } from '../../src/domain/decisions/decision-log.js';
import { ChangeRequestImpact } from '../../src/domain/impact/change-request-impact.js';
import { ImpactAnalysis } from '../../src/domain/impact/impact-analysis.js';
import { parseImpactRequest } from '../../src/domain/impact/impact-request.js';
import type { PolicyStore } from '../../src/domain/store/policy-store.js';
import { SpecCompiler } from '../../src/domain/specs/spec-compiler.js';
import { writeRestrictedCapabilities } from '../../src/opa/capabilities.js';
import { OpaPolicyEvaluator } from '../../src/opa/opa-policy-evaluator.js';
import { adminClient } from '../helpers/admin-client.js';
import { silentLogger } from '../helpers/git-repo.js';
import { realOpaCli } from '../helpers/opa-path.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/**
 * Impact analysis on recorded decisions, through the `DecisionLog` interface (the decision-log store is
 * another piece of work): an in-memory log that pages like a store would (newest first, a cursor, at
 * most 3 records a page), real git revisions, real OPA.
 */
class MemoryDecisionLog implements DecisionLog {
  readonly queries: DecisionQuery[] = [];

  constructor(private readonly records: DecisionRecord[]) {}

  async query(query: DecisionQuery): Promise<DecisionPage> {
    this.queries.push(query);
    const matching = this.records
      .filter((record) => (query.since === undefined || new Date(record.timestamp) >= query.since) && (query.until === undefined || new Date(record.timestamp) <= query.until))
      .filter((record) => query.path === undefined || record.path === query.path)
      .sort((a, b) => b.timestamp.localeCompare(a.timestamp));
    const offset = query.cursor === undefined ? 0 : Number(query.cursor);
    const page = matching.slice(offset, offset + Math.min(query.limit, 3));
    const next = offset + page.length;
    return { records: page, ...(next < matching.length ? { nextCursor: String(next) } : {}) };
  }
}

let sequence = 0;
function decision(path: string, input: unknown, minutesAgo: number, now = Date.now()): DecisionRecord {
  sequence++;
  return {
    decisionId: `d-${sequence}`, timestamp: new Date(now - minutesAgo * 60_000).toISOString(), path, agentId: 'agent-1',
    labels: Object.create(null) as Record<string, string>, bundles: Object.create(null) as Record<string, { revision: string }>,
    ...(input === undefined ? {} : { input }), receivedAt: new Date(now).toISOString(),
  };
}

const ask = (roles: string[], action: string, resource: string) => ({ subject: { roles }, action, resource });
const SPEC = 'stelar/s3.policy.yaml';

async function setup(records: DecisionRecord[]) {
  const regent = await startTestRegent();
  const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.test' });
  const dir = tempDirForTest('regent-impact-');
  const opa = await realOpaCli(silentLogger());
  const evaluator = OpaPolicyEvaluator.create({ opa, capabilitiesPath: await writeRestrictedCapabilities(opa, dir), workDir: dir });
  const specs = SpecCompiler.create({ maxSpecBytes: 1 << 20 });
  const store: PolicyStore = regent.store;
  const compile = (entries: Parameters<typeof compileTree>[0], readBlobs: Parameters<typeof compileTree>[1]) => compileTree(entries, readBlobs, [specs]);
  const log = new MemoryDecisionLog(records);
  const analysis = ImpactAnalysis.create({
    resolve: async (ref) => (ref === 'head' ? (await store.head())! : store.resolve(ref)),
    filesAt: async (revision) => evaluableFiles(await compile(await store.listTree(revision), (ids) => store.readBlobs(ids))),
    evaluator,
    decisions: log,
  });
  return { regent, admin, store, analysis, log, compile };
}

describe('impact analysis replays recorded decisions', () => {
  test('each decision at the path it was made for; decisions without input or at other paths are counted, not replayed; pages are followed up to the limit', async () => {
    const records = [
      decision('stelar/s3/allow', ask(['Data-Analyst'], 'read', 'my-bucket/my-object-3.txt'), 1),
      decision('stelar/s3/allow', ask(['Data-Manager'], 'delete', 'my-bucket/my-object-2.txt'), 2),
      decision('stelar/s3/allow', ask(['Data-Manager'], 'read', 'my-bucket/x'), 3),
      decision('stelar/s3/allow', undefined, 4),
      decision('rbac/allow', { subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } }, 5),
      decision('rbac/allow', { subject: 'dave', action: 'edit', resource: { type: 'workflow', project: 'apollo' } }, 6),
      decision('system/main-v2', { any: 1 }, 7),
      decision('stelar/s3/allow', ask(['Data-Manager'], 'delete', 'my-bucket/my-object-2.txt'), 60 * 30),
    ];
    const { admin, store, analysis, log } = await setup(records);
    const before = (await store.head())!;
    const spec = await (await admin.get(`/api/policies/${SPEC}`)).text();
    const tests = await (await admin.get('/api/policies/stelar/s3_test.rego')).text();
    // Data-Managers no longer delete anything: the example's test of that goes too.
    const changed = await admin.post('/api/changes', {
      changes: [
        { op: 'put', path: SPEC, content: spec.replace('      - { action: "delete", resource: "my-bucket/my-object-2.txt" }\n', '') },
        { op: 'put', path: 'stelar/s3_test.rego', content: tests.replace(/test_manager_deletes_object_2_only if \{[^}]*\}\n/, '') },
      ],
      message: 'No deletes', baseRevision: before,
    });
    expect(changed.status).toBe(201);
    const after = ((await changed.json()) as { revision: string }).revision;

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const report = await analysis.analyze(parseImpactRequest({ from: before, to: after, decisions: { since, limit: 7 } }, { maxInputs: 100, maxExamples: 10 }));
    expect(report).toMatchObject({
      from: before, to: after, source: 'decisions', evaluated: 5, changed: 1, unchanged: 4,
      decisions: { since, limit: 7, matched: 7, truncated: false, skipped: { no_input: 1, unsupported_path: 1 } },
      transitions: [{ query: 'data.stelar.s3.allow', from: { defined: true, result: true }, to: { defined: true, result: false }, count: 1 }],
    });
    expect(report.examples).toEqual([expect.objectContaining({ query: 'data.stelar.s3.allow', input: records[1]!.input, decision: { decisionId: records[1]!.decisionId, agentId: 'agent-1', timestamp: records[1]!.timestamp } })]);
    expect(log.queries.length).toBeGreaterThan(1);

    const limited = await analysis.analyze(parseImpactRequest({ from: before, to: after, decisions: { since, path: 'stelar/s3/allow', limit: 2 } }, { maxInputs: 100, maxExamples: 10 }));
    expect(limited).toMatchObject({ evaluated: 2, changed: 1, decisions: { path: 'stelar/s3/allow', matched: 2, truncated: true } });
  });

  test('a change request shows its impact on the last day\'s decisions, merged onto the current head', async () => {
    const records = [
      decision('stelar/s3/allow', ask(['Data-Analyst'], 'read', 'my-bucket/my-object-1.txt'), 10),
      decision('stelar/s3/allow', ask(['Data-Analyst'], 'read', 'my-bucket/my-object-3.txt'), 20),
      decision('stelar/s3/allow', ask(['Data-Analyst'], 'read', 'my-bucket/my-object-1.txt'), 60 * 25),
    ];
    const { regent, store, analysis, compile } = await setup(records);
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor', name: 'Eddie', email: 'eddie@example.test' });
    const spec = (await store.readBlobs([(await store.listTree((await store.head())!)).find((entry) => entry.path === SPEC)!.blobId])).values().next().value!.toString();
    const created = await editor.post('/api/change-requests', {
      title: 'Analysts read object 1',
      changes: [{ op: 'put', path: SPEC, content: spec.replace('      - { action: "read", resource: "my-bucket/my-object-3.txt" }\n', '      - { action: "read", resource: "my-bucket/my-object-3.txt" }\n      - { action: "read", resource: "my-bucket/my-object-1.txt" }\n') }],
    });
    expect(created.status).toBe(201);
    const request = (await created.json()) as { baseRevision: string; tip: string };
    const impact = ChangeRequestImpact.create({ store, compile, analysis, window: { hours: 24, maxDecisions: 100, examples: 5 }, logger: silentLogger() });
    const view = await impact.of({ ...request, open: true });
    expect(view).toMatchObject({ state: 'ready', tip: request.tip, evaluated: 2, changed: 1, matched: 2, truncated: false });
    expect(view.state === 'ready' && view.examples[0]!.input).toEqual(records[0]!.input);
    expect(await impact.of({ ...request, open: false })).toEqual({ state: 'not_applicable', reason: 'closed' });
  });
});
