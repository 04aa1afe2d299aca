import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { adminClient } from '../helpers/admin-client.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { opaStandIn, resetCalls } from '../helpers/opa-stand-in.js';
import { startTestRegent } from '../helpers/start-regent.js';

/** A spec of its own (the example's Rego tests pin the example spec's decisions, and the gate runs them). */
const SPEC = 'stelar/impact.policy.yaml';
const QUERY = 'data.stelar.impact.allow';
const SPEC_BEFORE = `actions:
  - read: ["s3:GetObject"]
  - write: ["s3:PutObject"]
  - delete: ["s3:DeleteObject"]
roles:
  - name: "Data-Manager"
    permissions:
      - { action: "read", resource: "my-bucket/*" }
      - { action: "write", resource: "my-bucket/my-object-1.txt" }
      - { action: "delete", resource: "my-bucket/my-object-2.txt" }
  - name: "Data-Analyst"
    permissions:
      - { action: "read", resource: "my-bucket/my-object-3.txt" }
`;
/** Nobody reads my-bucket/secret/*, Data-Analysts write my-object-3. */
const SPEC_AFTER = SPEC_BEFORE.replace('      - { action: "read", resource: "my-bucket/my-object-3.txt" }\n', '      - { action: "read", resource: "my-bucket/my-object-3.txt" }\n      - { action: "write", resource: "my-bucket/my-object-3.txt" }\n')
  .concat('deny:\n  - { action: read, resource: "my-bucket/secret/*" }\n');
const ROLES = [['Data-Manager'], ['Data-Analyst'], [], ['Data-Analyst', 'Data-Manager']];
const ACTIONS = ['read', 'write', 'delete', 's3:GetObject', 's3:PutObject'];
const RESOURCES = ['my-bucket/my-object-1.txt', 'my-bucket/my-object-2.txt', 'my-bucket/my-object-3.txt', 'my-bucket/secret/k', 'other/x'];
/** Every combination: 100 inputs. */
const INPUTS = ROLES.flatMap((roles) => ACTIONS.flatMap((action) => RESOURCES.map((resource) => ({ subject: { roles }, action, resource }))));

interface ImpactReport {
  from: string;
  to: string;
  evaluated: number;
  changed: number;
  unchanged: number;
  transitions: Array<{ query: string; from: { defined: boolean; result?: unknown }; to: { defined: boolean; result?: unknown }; count: number }>;
  examples: Array<{ index: number; input: unknown; from: { result?: unknown }; to: { result?: unknown } }>;
}

/** A Regent with the spec as it was (`before`) and as it is (`after`). */
async function regentWithChangedSpec(config: Record<string, unknown> = {}) {
  const regent = await startTestRegent({ config });
  const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.test' });
  const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
  const write = async (content: string, baseRevision: string): Promise<string> => {
    const written = await admin.put(`/api/policies/${SPEC}`, { content, message: 'Impact spec', baseRevision });
    expect(written.status).toBe(201);
    return ((await written.json()) as { revision: string }).revision;
  };
  const before = await write(SPEC_BEFORE, (await regent.store.head())!);
  const after = await write(SPEC_AFTER, before);
  return { regent, admin, editor, before, after };
}

describe('POST /api/impact', () => {
  test('answers the decisions that change between two revisions, with counts, kinds of change and bounded examples', async () => {
    const { editor, before, after } = await regentWithChangedSpec();
    const response = await editor.post('/api/impact', { from: before, to: after, query: QUERY, inputs: INPUTS, examples: 3 });
    expect(response.status).toBe(200);
    const report = (await response.json()) as ImpactReport;
    // Data-Manager reading my-bucket/secret/k (read and s3:GetObject, alone or with Data-Analyst): true → false;
    // Data-Analyst writing my-object-3.txt (write and s3:PutObject, alone or with Data-Manager): false → true.
    expect(report).toMatchObject({ from: before, to: after, evaluated: 100, changed: 8, unchanged: 92 });
    expect(report.transitions).toHaveLength(2);
    expect(report.transitions).toEqual(expect.arrayContaining([
      { query: QUERY, from: { defined: true, result: true }, to: { defined: true, result: false }, count: 4 },
      { query: QUERY, from: { defined: true, result: false }, to: { defined: true, result: true }, count: 4 },
    ]));
    expect(report.examples).toHaveLength(3);
    for (const example of report.examples) expect(example.input).toEqual(INPUTS[example.index]);

    const same = (await (await editor.post('/api/impact', { from: 'head', to: after, query: QUERY, inputs: INPUTS })).json()) as ImpactReport;
    expect(same).toMatchObject({ from: after, to: after, evaluated: 100, changed: 0, transitions: [], examples: [] });
  });

  test('agrees with a real OPA agent running the two revisions', async () => {
    const regent = await startTestRegent({ config: { impact: { maxExamples: 100 } } });
    const admin = adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice', email: 'alice@example.test' });
    const write = async (content: string): Promise<string> => {
      const written = await admin.put(`/api/policies/${SPEC}`, { content, message: 'Impact spec', baseRevision: await regent.store.head() });
      expect(written.status).toBe(201);
      return ((await written.json()) as { revision: string }).revision;
    };
    const before = await write(SPEC_BEFORE);
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), bundles: ['stelar'] });
    await agent.waitUntilReady();
    expect(await agent.activeRevision('stelar')).toBe(before);
    const answers = async () => Promise.all(INPUTS.map((input) => agent.query('stelar/impact/allow', input)));
    const onBefore = await answers();
    const after = await write(`${SPEC_BEFORE}deny:\n  - { action: delete, resource: "*" }\n  - { action: read, resource: "my-bucket/my-object-?.txt" }\n`);
    await eventually(async () => (await agent.activeRevision('stelar')) === after, 10_000);
    const onAfter = await answers();
    const flipped = INPUTS.map((_, index) => index).filter((index) => onBefore[index] !== onAfter[index]);
    expect(flipped.length).toBeGreaterThan(10);

    const report = (await (await admin.post('/api/impact', { from: before, to: after, query: QUERY, inputs: INPUTS, examples: 100 })).json()) as ImpactReport;
    expect(report.changed).toBe(flipped.length);
    expect(report.examples.map((example) => example.index)).toEqual(flipped);
    expect(report.examples.map((example) => [example.from.result, example.to.result])).toEqual(flipped.map((index) => [onBefore[index], onAfter[index]]));
  });

  test('runs one OPA process per revision, however many inputs, and fails closed when OPA gives no answer', async () => {
    const standIn = opaStandIn('real');
    const { editor, before, after } = await regentWithChangedSpec({ opa: { path: standIn.path } });
    const inputs = Array.from({ length: 2000 }, (_, index) => INPUTS[index % INPUTS.length]);
    resetCalls(standIn);
    const response = await editor.post('/api/impact', { from: before, to: after, query: QUERY, inputs });
    expect(response.status).toBe(200);
    expect(((await response.json()) as ImpactReport).changed).toBe(160);
    expect(standIn.calls().filter((command) => command === 'eval')).toHaveLength(2);

    for (const mode of ['silent', 'garbage-exit-0', 'empty-results', 'crash'] as const) {
      standIn.setMode(mode);
      const refused = await editor.post('/api/impact', { from: before, to: after, query: QUERY, inputs: INPUTS });
      expect({ mode, status: refused.status, code: ((await refused.json()) as { code: string }).code }).toEqual({ mode, status: 503, code: 'opa_unavailable' });
    }
  });

  test.each([
    ['no from', { to: 'head', inputs: [{}] }, 400, 'invalid_field', 'from'],
    ['neither inputs nor decisions', { from: 'head', to: 'head' }, 400, 'invalid_field', 'inputs'],
    ['both inputs and decisions', { from: 'head', to: 'head', inputs: [{}], decisions: {} }, 400, 'invalid_field', 'inputs'],
    ['an empty list of inputs', { from: 'head', to: 'head', inputs: [] }, 400, 'invalid_field', 'inputs'],
    ['more inputs than impact.maxInputs', { from: 'head', to: 'head', inputs: [{}, {}, {}, {}, {}, {}] }, 400, 'too_many_inputs', 'inputs'],
    ['a query that is not a data reference', { from: 'head', to: 'head', inputs: [{}], query: 'data.x; http.send({})' }, 400, 'invalid_field', 'query'],
    ['an unknown field', { from: 'head', to: 'head', inputs: [{}], query: 'data.x', mode: 'fast' }, 400, 'invalid_field', 'mode'],
    ['a decision limit over impact.maxInputs', { from: 'head', to: 'head', decisions: { limit: 6 } }, 400, 'too_many_inputs', 'decisions.limit'],
    ['a time that is not RFC 3339', { from: 'head', to: 'head', decisions: { since: 'yesterday' } }, 400, 'invalid_field', 'decisions.since'],
    ['an unknown revision', { from: 'head', to: '0123456789012345678901234567890123456789', inputs: [{}] }, 404, 'revision_not_found', undefined],
  ])('refuses %s with %i %s', async (_name, body, status, code, field) => {
    const regent = await startTestRegent({ config: { impact: { maxInputs: 5 } } });
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
    const response = await editor.post('/api/impact', body);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ code, ...(field === undefined ? {} : { field }) });
    expect((await adminClient(regent, { sub: 'vic', role: 'viewer' }).post('/api/impact', body)).status).toBe(403);
  });
});

describe('impact on the decisions the fleet logged', () => {
  test('a real OPA agent uploads its decisions (POST /logs); POST /api/impact replays them and a change request shows what it would flip', async () => {
    const { regent, editor, before, after } = await regentWithChangedSpec({ impact: { maxExamples: 100 } });
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), bundles: ['stelar'], decisionLogs: true, labels: { id: 'impact-agent' } });
    await agent.waitUntilReady();
    expect(await agent.activeRevision('stelar')).toBe(after);
    const onAfter = await Promise.all(INPUTS.map((input) => agent.query('stelar/impact/allow', input)));
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    await eventually(async () => {
      const page = (await (await auditor.get('/api/decisions?path=stelar/impact/allow&limit=500')).json()) as { decisions: unknown[] };
      return page.decisions.length === INPUTS.length;
    }, 20_000);

    // Replayed on the revision before the change: the same flips as the same inputs given inline.
    const report = (await (await editor.post('/api/impact', { from: after, to: before, decisions: { since: '2026-01-01T00:00:00Z', path: 'stelar/impact/allow', limit: 100 }, examples: 100 })).json()) as ImpactReport & { source: string; decisions: { matched: number } };
    expect(report).toMatchObject({ source: 'decisions', evaluated: INPUTS.length, decisions: { matched: INPUTS.length } });
    const inline = (await (await editor.post('/api/impact', { from: after, to: before, query: QUERY, inputs: INPUTS })).json()) as ImpactReport;
    expect(inline.changed).toBeGreaterThan(0);
    expect(report.changed).toBe(inline.changed);
    for (const example of report.examples) {
      expect(example.from.result).not.toEqual(example.to.result);
      // What the agent answered is what the replay found on the agent's revision.
      expect(example.from.result).toEqual(onAfter[INPUTS.findIndex((input) => isDeepStrictEqual(input, example.input))]);
    }

    // A change request that undoes the deny: its view replays the last day's decisions on it.
    const created = await editor.post('/api/change-requests', { title: 'Back to before', changes: [{ op: 'put', path: SPEC, content: SPEC_BEFORE }] });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    await eventually(async () => {
      const shown = (await (await editor.get(`/api/change-requests/${id}`)).json()) as { impact?: { state: string; changed?: number } };
      return shown.impact?.state === 'ready';
    }, 30_000, () => 'change request impact never ready');
    const shown = (await (await editor.get(`/api/change-requests/${id}`)).json()) as { impact: { state: string; changed: number; evaluated: number } };
    expect(shown.impact).toMatchObject({ state: 'ready', evaluated: INPUTS.length, changed: inline.changed });
  });
});

describe('POST /api/evaluate with explain', () => {
  test('returns OPA\'s explanation as lines and events; a bad mode is refused; the output is bounded by the runner', async () => {
    // 256 KiB: enough for `opa capabilities` and a `fails` explanation, not for a full trace of all of data.
    const regent = await startTestRegent({ config: { opa: { maxOutputBytes: 262_144 } } });
    const editor = adminClient(regent, { sub: 'eddie', role: 'editor' });
    const input = { subject: { roles: ['Data-Analyst'] }, action: 'delete', resource: 'my-bucket/my-object-3.txt' };
    const response = await editor.post('/api/evaluate', { query: 'data.stelar.s3.allow', input, explain: 'fails' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: unknown; explanation: { mode: string; lines: string[]; events: Array<{ Op: string }> } };
    expect(body.result).toBe(false);
    expect(body.explanation.mode).toBe('fails');
    expect(body.explanation.lines[0]).toMatch(/^query:1 +Enter data\.stelar\.s3\.allow$/);
    expect(body.explanation.lines.some((line) => /^stelar\/s3\.policy\.rego:\d+ +\| (\| )*Fail action_matches\("read"\)$/.test(line))).toBe(true);
    expect(body.explanation.events.length).toBe(body.explanation.lines.length);
    const noExplain = (await (await editor.post('/api/evaluate', { query: 'data.stelar.s3.allow', input })).json()) as Record<string, unknown>;
    expect(noExplain.explanation).toBeUndefined();
    const bad = await editor.post('/api/evaluate', { query: 'data.stelar.s3.allow', input, explain: 'debug' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'invalid_field', field: 'explain' });
    const full = await editor.post('/api/evaluate', { query: 'data', input: { subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } }, explain: 'full' });
    expect(full.status).toBe(422);
    expect(await full.json()).toMatchObject({ code: 'opa_output_limit' });
  });
});
