/**
 * Impact analysis and role-spec compilation. Regent runs in-process on the example policies (dev mode, real
 * OPA, real HTTP) with a generated role spec `stelar/bench.policy.yaml` of `--roles` (1,000) roles written
 * twice through the API (deny rules and changed grants between the two revisions). Measured:
 *   (a) `POST /api/impact` with 10,000 inputs inline between the two revisions: one `opa eval` per
 *       revision; seconds and decisions per second, and how many changed;
 *   (b) the same 10,000 as recorded decisions (an in-memory `DecisionLog`, pages of 1,000, two decision
 *       paths), replayed by `ImpactAnalysis` over the same revisions;
 *   (c) compiling a spec of 1,000 roles (5 permissions each: exact names, prefixes and patterns, a third
 *       with conditions): parse + Rego generation, and, for information, `opa check` of the module.
 * Median of `--runs` (3). Run by hand: npm run bench:impact [-- --decisions 10000 --roles 1000 --runs 3]
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load-config.js';
import { AdminTokenIssuer } from '../src/domain/auth/admin-token-issuer.js';
import { compileTree, evaluableFiles } from '../src/domain/candidates/compiled-tree.js';
import type { DecisionLog, DecisionQuery, DecisionRecord } from '../src/domain/decisions/decision-log.js';
import { ImpactAnalysis } from '../src/domain/impact/impact-analysis.js';
import { parseImpactRequest } from '../src/domain/impact/impact-request.js';
import { SpecCompiler } from '../src/domain/specs/spec-compiler.js';
import { startRegent, type RunningRegent } from '../src/main.js';
import { opaRunnerOptions } from '../src/composition/build-pipeline.js';
import { writeRestrictedCapabilities } from '../src/opa/capabilities.js';
import { OpaCli } from '../src/opa/opa-cli.js';
import { OpaPolicyEvaluator } from '../src/opa/opa-policy-evaluator.js';
import { configSchema } from '../src/config/schema.js';
import { arg, fmtMs, median, onCleanup, opaBinary, printTable, runBenchmark, SetupError, workDir } from './lib/harness.js';

const DECISIONS = Number(arg('decisions', '10000'));
const ROLES = Number(arg('roles', '1000'));
const RUNS = Number(arg('runs', '3'));
const ACTIONS = ['read', 'write', 'delete', 'list', 'tag'];
const OPERATIONS: Record<string, string[]> = { read: ['s3:GetObject'], write: ['s3:PutObject'], delete: ['s3:DeleteObject'], list: ['s3:ListBucket'], tag: ['s3:PutObjectTagging'] };

/** A spec of `roles` roles, 5 permissions each; `variant` 1 adds deny rules and moves some grants. */
function generatedSpec(roles: number, variant: 0 | 1): string {
  return stringify({
    description: `generated: ${roles} roles`,
    actions: ACTIONS.map((action) => ({ [action]: OPERATIONS[action] })),
    roles: Array.from({ length: roles }, (_, r) => ({
      name: `role-${r}`,
      permissions: [
        { action: 'read', resource: `bucket-${r % 50}/*` },
        { action: 'write', resource: `bucket-${r % 50}/team-${r}/*` },
        { action: 'list', resource: `bucket-${r % 50}/reports/*.csv` },
        { action: variant === 1 && r % 4 === 0 ? 'tag' : 'delete', resource: `bucket-${r % 50}/team-${r}/tmp-??.txt` },
        { action: 'tag', resource: `bucket-${r % 50}/team-${r}/meta.json`, ...(r % 3 === 0 ? { when: { department: ['sales', 'ops'], level: 3 } } : {}) },
      ],
    })),
    ...(variant === 1 ? { deny: [{ action: 'read', resource: 'bucket-7/secret/*' }, { action: 'read', resource: 'bucket-1?/x/*' }, { roles: ['role-1', 'role-2'], action: 'write', resource: '*' }] } : {}),
  });
}

/** `count` inputs near the spec (its roles, actions and resources, some off), from a fixed pseudo-random sequence. */
function inputs(count: number, roles: number): unknown[] {
  let seed = 42;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  return Array.from({ length: count }, (_, i) => {
    const r = next(roles);
    const resource = [
      `bucket-${r % 50}/x/${i}.bin`, `bucket-${r % 50}/team-${r}/f${i}`, `bucket-${r % 50}/reports/q${i % 4}.csv`,
      `bucket-${r % 50}/team-${r}/tmp-${String(i % 100).padStart(2, '0')}.txt`, `bucket-${r % 50}/team-${r}/meta.json`, `bucket-7/secret/${i}`,
    ][next(6)]!;
    return { subject: { roles: [`role-${r}`], department: next(2) ? 'sales' : 'hr', level: 3 }, action: ACTIONS[next(ACTIONS.length)], resource };
  });
}

/** Pages of at most 1,000, newest first, as a store would serve them. */
class MemoryDecisionLog implements DecisionLog {
  constructor(private readonly records: DecisionRecord[]) {}

  async query(query: DecisionQuery) {
    const offset = query.cursor === undefined ? 0 : Number(query.cursor);
    const page = this.records.filter((record) => query.path === undefined || record.path === query.path).slice(offset, offset + Math.min(query.limit, 1000));
    const next = offset + page.length;
    return { records: page, ...(next < this.records.length ? { nextCursor: String(next) } : {}) };
  }
}

runBenchmark('impact-bench: impact analysis over recorded decisions, and role-spec compilation', async () => {
  const work = workDir('impact');
  const config = loadConfig({
    env: {},
    overrides: { dev: true, host: '127.0.0.1', port: 0, dataDir: join(work, 'data'), store: { seedDir: join(process.cwd(), 'policies-repo') }, opa: { path: opaBinary(), evaluateTimeoutMs: 120_000 }, impact: { maxInputs: DECISIONS }, api: { maxBodyBytes: 16 * 1024 * 1024 }, log: { level: 'warn' } },
  });
  const regent: RunningRegent = await startRegent(config, pino({ level: 'warn' }));
  onCleanup(() => regent.close());
  if (!regent.activation.status().active) throw new SetupError('the example policies did not activate');
  const { token } = AdminTokenIssuer.create({ algorithm: 'HS256', key: regent.adminTokenKey.key, issuer: 'regent', audience: 'regent-admin', roleClaim: 'regent_role', maxTokenLifetimeSeconds: 3600 })
    .issue({ sub: 'bench', role: 'admin', name: 'Bench', email: 'bench@example.test' });
  const api = async (method: string, path: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${regent.url}${path}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const answer = (await response.json()) as Record<string, unknown>;
    if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer).slice(0, 400)}`);
    return answer;
  };
  const write = async (content: string) => (await api('PUT', '/api/policies/stelar/bench.policy.yaml', { content, message: 'bench spec', baseRevision: await regent.store.head() })).revision as string;
  const specRoles = ROLES;
  const from = await write(generatedSpec(specRoles, 0));
  const to = await write(generatedSpec(specRoles, 1));
  const decisionInputs = inputs(DECISIONS, specRoles);

  // (a) POST /api/impact with the inputs inline.
  const viaHttp: number[] = [];
  let changed = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const report = await api('POST', '/api/impact', { from, to, query: 'data.stelar.bench.allow', inputs: decisionInputs });
    viaHttp.push(performance.now() - started);
    changed = report.changed as number;
    if (report.evaluated !== DECISIONS) throw new Error(`evaluated ${String(report.evaluated)}`);
  }

  // (b) The same as recorded decisions, through the DecisionLog interface, over two paths.
  const records: DecisionRecord[] = decisionInputs.map((input, i) => ({
    decisionId: `d${i}`, timestamp: new Date(Date.now() - i * 1000).toISOString(), path: i % 10 === 0 ? 'rbac/allow' : 'stelar/bench/allow', agentId: `agent-${i % 20}`,
    labels: Object.create(null) as Record<string, string>, bundles: Object.create(null) as Record<string, { revision: string }>,
    input: i % 10 === 0 ? { subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } } : input, receivedAt: new Date().toISOString(),
  }));
  const logger = pino({ level: 'warn' });
  const opa = await OpaCli.create(opaRunnerOptions(configSchema.parse({ opa: { evaluateTimeoutMs: 120_000 } }).opa, opaBinary(), logger));
  const evaluator = OpaPolicyEvaluator.create({ opa, capabilitiesPath: await writeRestrictedCapabilities(opa, join(work, 'opa')), workDir: join(work, 'tmp') });
  const specs = SpecCompiler.create({ maxSpecBytes: 16 << 20 });
  const store = regent.store;
  const analysis = ImpactAnalysis.create({
    resolve: async (ref) => store.resolve(ref),
    filesAt: async (revision) => evaluableFiles(await compileTree(await store.listTree(revision), (ids) => store.readBlobs(ids), [specs])),
    evaluator,
    decisions: new MemoryDecisionLog(records),
  });
  const replayed: number[] = [];
  let replayChanged = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const report = await analysis.analyze(parseImpactRequest({ from, to, decisions: { limit: DECISIONS } }, { maxInputs: DECISIONS, maxExamples: 20 }));
    replayed.push(performance.now() - started);
    replayChanged = report.changed;
    if (report.evaluated !== DECISIONS) throw new Error(`replayed ${report.evaluated}`);
  }
  printTable(['impact over', 'decisions', 'changed', 'seconds (median)', 'decisions/s', 'runs (s)'], [
    [`POST /api/impact, inputs inline (spec of ${specRoles} roles)`, String(DECISIONS), String(changed), (median(viaHttp) / 1000).toFixed(2), String(Math.round(DECISIONS / (median(viaHttp) / 1000))), viaHttp.map((ms) => (ms / 1000).toFixed(2)).join(', ')],
    ['recorded decisions (DecisionLog, 2 paths)', String(DECISIONS), String(replayChanged), (median(replayed) / 1000).toFixed(2), String(Math.round(DECISIONS / (median(replayed) / 1000))), replayed.map((ms) => (ms / 1000).toFixed(2)).join(', ')],
  ]);

  // (c) Compiling a spec of ROLES roles.
  const big = Buffer.from(generatedSpec(ROLES, 1));
  const compileMs: number[] = [];
  let module: Buffer | undefined;
  for (let i = 0; i < Math.max(RUNS, 5); i++) {
    const started = performance.now();
    const outcome = specs.compile('stelar/big.policy.yaml', big);
    compileMs.push(performance.now() - started);
    if (!outcome.module) throw new Error(`the generated spec does not compile: ${JSON.stringify(outcome.problems.slice(0, 3))}`);
    module = outcome.module.content;
  }
  const parseMs: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 5); i++) {
    const started = performance.now();
    specs.read('stelar/big.policy.yaml', big);
    parseMs.push(performance.now() - started);
  }
  const dir = workDir('impact-spec');
  const { writeFile, mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'stelar'), { recursive: true });
  await writeFile(join(dir, 'stelar', 'big.policy.rego'), module!);
  const checkMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = await opa.run(['check', '--bundle', dir], { priority: 'background', budgetMs: 120_000 });
    checkMs.push(performance.now() - started);
    if (result.exitCode !== 0) throw new Error(`opa check failed: ${result.stderr.slice(0, 400)}`);
  }
  printTable(['spec of', 'YAML', 'Rego', 'parse (median)', 'compile = parse + generate (median)', 'opa check of the module (median, information)'], [
    [`${ROLES} roles × 5 permissions`, `${(big.length / 1024).toFixed(0)} KiB`, `${(module!.length / 1024).toFixed(0)} KiB`, fmtMs(median(parseMs)), fmtMs(median(compileMs)), fmtMs(median(checkMs))],
  ]);
});
