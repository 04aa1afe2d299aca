/**
 * Fleet benchmark: 10,000 agents report their status, then an auditor pages through GET /api/fleet.
 * Regent runs in-process so its event loop can be watched (perf_hooks monitorEventLoopDelay); the
 * agents and the auditor run in a worker thread, so the client's own work never shows up as Regent's
 * stall. Reports are either OPA-like (`typical`: 2 bundles, 3 labels, 3 plugins, ~0.9 KB stored) or as
 * large as the issue's attack (`fat`: 16 bundles, 16 labels, long strings, ~10 KB stored). Run by hand:
 *
 *   node --import tsx bench/fleet-bench.ts [--agents 10000] [--shapes typical,fat] [--concurrency 32]
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load-config.js';
import { AdminTokenIssuer } from '../src/domain/auth/admin-token-issuer.js';
import { startRegent } from '../src/main.js';
import { arg, EXAMPLE_POLICIES, fmtMs, fmtNum, onCleanup, opaBinary, printTable, runBenchmark, sleep, workDir } from './lib/harness.js';

const AGENTS = Number(arg('agents', '10000'));
const SHAPES = arg('shapes', 'typical,fat').split(',');
const CONCURRENCY = Number(arg('concurrency', '32'));

/** The worker: posts the reports, then pages; answers each command with its figures. */
const CLIENT = `
const { parentPort } = require('node:worker_threads');
const revision = 'a'.repeat(40);
function report(shape, i) {
  const id = 'agent-' + String(i).padStart(6, '0');
  if (shape === 'typical') {
    return { labels: { id, version: '1.22.2', region: 'eu-west' }, plugins: { bundle: { state: 'OK' }, status: { state: 'OK' }, discovery: { state: 'OK' } },
      bundles: { rbac: { name: 'rbac', active_revision: revision, last_successful_download: new Date().toISOString(), last_successful_activation: new Date().toISOString(), last_request: new Date().toISOString() },
                 datasets: { name: 'datasets', active_revision: revision, last_successful_download: new Date().toISOString(), last_successful_activation: new Date().toISOString(), last_request: new Date().toISOString() } } };
  }
  const labels = { id };
  for (let l = 0; l < 15; l++) labels['label-' + l] = 'v'.repeat(128);
  const bundles = {};
  for (let b = 0; b < 16; b++) bundles['bundle-' + b] = { name: 'bundle-' + b, active_revision: revision, last_request: new Date().toISOString(), code: 'bundle_error', message: 'm'.repeat(200), http_code: 500 };
  return { labels, bundles, plugins: { bundle: { state: 'ERROR' } } };
}
parentPort.on('message', async (command) => {
  try {
    if (command.type === 'report') {
      let next = 0;
      const started = performance.now();
      const one = async () => {
        while (next < command.agents) {
          const i = next++;
          const response = await fetch(command.url + '/status', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(report(command.shape, i)) });
          if (response.status !== 200) throw new Error('report ' + i + ': ' + response.status + ' ' + await response.text());
          await response.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: command.concurrency }, one));
      parentPort.postMessage({ ms: performance.now() - started });
    } else if (command.type === 'page') {
      const pages = [];
      let cursor = null;
      let agents = 0;
      do {
        const started = performance.now();
        const response = await fetch(command.url + '/api/fleet?limit=' + command.limit + (cursor ? '&cursor=' + cursor : ''), { headers: { Authorization: 'Bearer ' + command.token } });
        const text = await response.text();
        const ms = performance.now() - started;
        if (response.status !== 200) throw new Error('page: ' + response.status + ' ' + text.slice(0, 300));
        pages.push({ bytes: Buffer.byteLength(text), ms });
        const page = JSON.parse(text);
        agents += page.agents.length;
        cursor = page.nextCursor;
      } while (cursor);
      parentPort.postMessage({ pages, agents });
    }
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.stack || error) });
  }
});
`;

runBenchmark('fleet-bench: 10,000 agents reporting, GET /api/fleet paged', async () => {
  const work = workDir('fleet-bench');
  const worker = new Worker(CLIENT, { eval: true });
  onCleanup(async () => {
    await worker.terminate();
  });
  const ask = <T>(command: Record<string, unknown>): Promise<T> => new Promise((resolve, reject) => {
    worker.once('message', (message: T & { error?: string }) => (message.error ? reject(new Error(message.error)) : resolve(message)));
    worker.postMessage(command);
  });
  const rows: string[][] = [];
  // The longest garbage-collection pause per phase: a stall is either our code or the collector.
  let gcMax = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMax = Math.max(gcMax, entry.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  onCleanup(() => gc.disconnect());
  for (const shape of SHAPES) {
    const dataDir = join(work, `data-${shape}`);
    const config = loadConfig({
      env: {},
      overrides: {
        dev: true, host: '127.0.0.1', port: 0, dataDir, log: { level: 'warn' },
        store: { seedDir: EXAMPLE_POLICIES }, opa: { path: opaBinary() },
        // Room for every agent of the largest shape, so all 10,000 are kept and paged.
        fleet: { maxAgents: AGENTS, maxStoredBytes: 1024 * 1024 * 1024 },
      },
    });
    const regent = await startRegent(config, pino({ level: 'warn' }));
    const token = AdminTokenIssuer.create({ algorithm: 'HS256', key: regent.adminTokenKey.key, issuer: 'regent', audience: 'regent-admin', roleClaim: 'regent_role', maxTokenLifetimeSeconds: 3600 }).issue({ sub: 'bench', role: 'auditor' }).token;
    const delay = monitorEventLoopDelay({ resolution: 5 });

    gcMax = 0;
    delay.enable();
    const reported = await ask<{ ms: number }>({ type: 'report', url: regent.url, shape, agents: AGENTS, concurrency: CONCURRENCY });
    delay.disable();
    const reportStall = delay.max / 1e6;
    const reportP99 = delay.percentile(99) / 1e6;
    const reportGc = gcMax;
    await sleep(config.fleet.snapshotIntervalMs + 2000);
    const stored = statSync(join(dataDir, 'fleet', 'agents.json')).size;

    for (const limit of [100, 1000]) {
      delay.reset();
      gcMax = 0;
      delay.enable();
      const { pages, agents } = await ask<{ pages: Array<{ bytes: number; ms: number }>; agents: number }>({ type: 'page', url: regent.url, token, limit });
      delay.disable();
      if (agents !== AGENTS) throw new Error(`paged ${agents} agents, expected ${AGENTS}`);
      const bytes = pages.map((page) => page.bytes);
      const ms = pages.map((page) => page.ms).sort((a, b) => a - b);
      rows.push([
        shape, fmtNum(AGENTS), `${fmtNum(AGENTS / (reported.ms / 1000))}/s`, `${fmtMs(reportStall)} / ${fmtMs(reportP99)} / ${fmtMs(reportGc)}`, `${(stored / 1024 / 1024).toFixed(1)} MiB`,
        String(limit), String(pages.length), `${(Math.max(...bytes) / 1024).toFixed(0)} KiB`, fmtMs(ms[Math.floor(ms.length / 2)]!), fmtMs(ms.at(-1)!),
        `${fmtMs(delay.max / 1e6)} / ${fmtMs(delay.percentile(99) / 1e6)} / ${fmtMs(gcMax)}`,
      ]);
    }
    const memory = process.memoryUsage();
    console.log(`${shape}: after ${AGENTS} agents, Regent process RSS ${Math.round(memory.rss / 1024 / 1024)} MiB, heap used ${Math.round(memory.heapUsed / 1024 / 1024)} MiB (this process also runs the bench)`);
    await regent.close();
  }
  printTable(
    ['shape', 'agents', 'reports', 'loop delay reporting: max / p99 / longest GC', 'agents.json', 'limit', 'pages', 'largest page', 'page ms p50', 'page ms max', 'loop delay paging: max / p99 / longest GC'],
    rows,
  );
});
