/**
 * Admin API write latency: `PUT /api/policies/<module>` from the request to the commit and to the bundle
 * being published, split into validation (real OPA + bundle builder dry run), commit (git) and activation
 * (gate, remembered from validation, then build, sign, self-verify, publish). Regent runs in-process on
 * 127.0.0.1 with a real HTTP client, in dev mode; the split comes from the `Server-Timing` header each
 * write answers with, and from Regent's own moments (head moved, catalog swapped). Two repositories: the
 * example policies, and a generated one of 1,000 modules (100 test files, 1 MiB of data). Run by hand:
 *
 *   node --import tsx bench/write-bench.ts [--writes 20] [--modules 1000] [--data-mb 1]
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load-config.js';
import { AdminTokenIssuer } from '../src/domain/auth/admin-token-issuer.js';
import { startRegent, type RunningRegent } from '../src/main.js';
import { generateRepo, moduleText, serviceId } from './lib/generate-repo.js';
import { arg, EXAMPLE_POLICIES, fmtMs, nowAbs, onCleanup, opaBinary, percentile, printTable, runBenchmark, SetupError, trackRegentMoments, workDir } from './lib/harness.js';

const WRITES = Number(arg('writes', '20'));
const MODULES = Number(arg('modules', '1000'));
const DATA_MB = Number(arg('data-mb', '1'));

interface Sample {
  responseMs: number;
  committedMs: number;
  publishedMs: number;
  validateMs: number;
  commitMs: number;
  activateMs: number;
}

/** `validate;dur=12.3, commit;dur=4.5` → { validate: 12.3, commit: 4.5 }. */
function serverTimings(header: string | null): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const match = /^\s*([A-Za-z0-9_-]+)\s*;(?:.*;)?\s*dur=([0-9.]+)/.exec(part);
    if (match) timings[match[1]!] = Number(match[2]);
  }
  return timings;
}

async function startIn(work: string, seedDir: string): Promise<RunningRegent> {
  const config = loadConfig({
    env: {},
    overrides: { dev: true, host: '127.0.0.1', port: 0, dataDir: join(work, 'data'), store: { seedDir, watchIntervalMs: 1000 }, opa: { path: opaBinary() }, log: { level: 'warn' } },
  });
  const regent = await startRegent(config, pino({ level: 'warn' }));
  onCleanup(() => regent.close());
  if (!regent.activation.status().active) throw new SetupError(`the seeded repository did not activate: ${JSON.stringify(regent.activation.status().lastFailure)}`);
  return regent;
}

/** `WRITES` sequential writes of one module, each based on the head the previous one produced. */
async function measure(regent: RunningRegent, moduleFor: (i: number) => { path: string; content: string }): Promise<Sample[]> {
  const { token } = AdminTokenIssuer.create({
    algorithm: 'HS256', key: regent.adminTokenKey.key, issuer: 'regent', audience: 'regent-admin', roleClaim: 'regent_role', maxTokenLifetimeSeconds: 3600,
  }).issue({ sub: 'bench', role: 'admin', name: 'Bench Writer', email: 'bench@example.test' });
  const { headMovedAt, publishedAt } = trackRegentMoments(regent);
  const samples: Sample[] = [];
  let head = (await regent.store.head())!;
  for (let i = 1; i <= WRITES; i++) {
    const { path, content } = moduleFor(i);
    const started = nowAbs();
    const response = await fetch(`${regent.url}/api/policies/${path}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'If-Match': `"${head}"` },
      body: JSON.stringify({ content, message: `bench write ${i}` }),
    });
    const answered = nowAbs();
    const body = (await response.json()) as { revision?: string; activation?: { state: string }; code?: string; detail?: string };
    if (response.status !== 201 || !body.revision) throw new Error(`write ${i} answered ${response.status}: ${body.code} ${body.detail ?? ''}`);
    if (body.activation?.state !== 'active') throw new Error(`write ${i} was not active when answered: ${JSON.stringify(body.activation)}`);
    head = body.revision;
    const timings = serverTimings(response.headers.get('server-timing'));
    samples.push({
      responseMs: answered - started,
      committedMs: (headMovedAt.get(head) ?? NaN) - started,
      publishedMs: (publishedAt.get(head) ?? NaN) - started,
      validateMs: timings.validate ?? NaN,
      commitMs: timings.commit ?? NaN,
      activateMs: timings.activate ?? NaN,
    });
  }
  return samples;
}

function report(title: string, samples: readonly Sample[]): void {
  console.log(`### ${title}: ${samples.length} sequential writes of one module\n`);
  const row = (label: string, pick: (sample: Sample) => number): string[] => {
    const values = samples.map(pick).filter(Number.isFinite);
    return [label, String(values.length), fmtMs(percentile(values, 50)), fmtMs(percentile(values, 99))];
  };
  printTable(['measure', 'n', 'p50', 'p99'], [
    row('request -> committed (head moved)', (s) => s.committedMs),
    row('request -> bundle published (catalog swapped)', (s) => s.publishedMs),
    row('request -> response (201, revision active)', (s) => s.responseMs),
    row('  validation (OPA check + test, builder dry run)', (s) => s.validateMs),
    row('  commit (git, compare-and-swap)', (s) => s.commitMs),
    row('  activation (gate remembered, build, sign, verify, publish)', (s) => s.activateMs),
  ]);
}

runBenchmark('write-bench: admin API write latency', async () => {
  const example = await startIn(workDir('write-example'), EXAMPLE_POLICIES);
  report('example policies', await measure(example, (i) => ({ path: 'rbac/bench/policy.rego', content: `package rbac.bench\n\nlimit := ${i}\n` })));
  await example.close();

  const work = workDir('write-generated');
  const repoDir = join(work, 'repo');
  const generated = generateRepo(repoDir, { modules: MODULES, dataBytes: DATA_MB * 1024 * 1024, testEvery: 10 });
  const regent = await startIn(work, repoDir);
  report(`generated repo (${generated.modules} modules, ${generated.tests} test files, ${DATA_MB} MiB data)`, await measure(regent, (i) => ({ path: `svc/${serviceId(7)}/policy.rego`, content: moduleText(7, i) })));
});
