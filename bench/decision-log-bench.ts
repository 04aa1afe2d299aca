/**
 * Decision-log benchmark. Regent (built, own process, dev mode, log level warn) takes decision-log batches
 * from 100 simulated OPA agents (a separate load process: gzip'd OPA-like batches, each agent uploading
 * back to back); measured: batches/s and events/s acknowledged (204, i.e. on disk), and what it costs the
 * bundle path: unchanged-bundle answers (304) per second under `wrk` with and without the upload load
 * (back to back, and paced at `--pace` batches per second per agent), in the same run. Also the 304 rate of a Regent with metrics on (scraped every second) vs one with
 * `metrics.enabled: false`, interleaved in the same run. Run by hand:
 *
 *   node --import tsx bench/decision-log-bench.ts [--duration 10] [--rounds 3] [--agents 100] [--events 50] [--pace 1] [--connections 64] [--skip-build]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchNode, describeNode } from './lib/bench-node.js';
import {
  arg, BENCH_DIR, buildRegent, EXAMPLE_POLICIES, fmtNum, median, printTable, run, runBenchmark, SetupError, sleep, startRegentProcess, workDir,
} from './lib/harness.js';

const DURATION = Number(arg('duration', '10'));
const ROUNDS = Number(arg('rounds', '3'));
const AGENTS = Number(arg('agents', '100'));
const EVENTS = Number(arg('events', '50'));
const CONNECTIONS = Number(arg('connections', '64'));
/** Batches per second per agent of the paced load (OPA with `reporting.min/max_delay_seconds` about 1). */
const PACE = Number(arg('pace', '1'));

interface SenderResult { batches: number; events: number; errors: number; compressedBytes: number; seconds: number; p50: number; p99: number; batchBytes: number }

function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin'])) if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  return undefined;
}

async function wrk(wrkPath: string, url: string, etag: string, seconds: number): Promise<number> {
  const result = await run(wrkPath, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-H', `If-None-Match: ${etag}`, url], { timeoutMs: (seconds + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(result.stdout)?.[1]);
  if (result.code !== 0 || !Number.isFinite(rps)) throw new Error(`wrk failed: ${result.stdout}${result.stderr}`);
  if (/Non-2xx or 3xx responses/.test(result.stdout)) throw new Error(`wrk got answers other than 304:\n${result.stdout}`);
  return rps;
}

/** `pace`: batches per second per agent (0: back to back, as fast as Regent acknowledges). */
async function sender(url: string, seconds: number, pace = 0): Promise<SenderResult> {
  const result = await run(benchNode().path, ['--import', 'tsx', join(BENCH_DIR, 'lib', 'decision-sender.ts'), url, String(AGENTS), String(seconds), String(EVENTS), String(pace)], { timeoutMs: (seconds + 60) * 1000 });
  if (result.code !== 0) throw new Error(`the decision sender failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as SenderResult;
}

/** Scrapes `/metrics` every second while `during` runs, as a Prometheus would (more often than usual). */
async function scraped<T>(url: string, during: () => Promise<T>): Promise<{ value: T; scrapes: number }> {
  let scrapes = 0;
  const timer = setInterval(() => {
    void fetch(`${url}/metrics`).then(async (response) => {
      await response.text();
      if (response.ok) scrapes++;
    });
  }, 1000);
  try {
    return { value: await during(), scrapes };
  } finally {
    clearInterval(timer);
  }
}

runBenchmark('decision-log-bench: decision-log ingestion, its cost to bundle serving, and the cost of metrics', async () => {
  const wrkPath = which('wrk');
  if (!wrkPath) throw new SetupError('wrk not found on PATH: apt-get update && apt-get install -y wrk');
  const node = benchNode();
  console.log(`Regent and the load process run on ${describeNode(node)}; wrk -t1 -c${CONNECTIONS}; ${AGENTS} simulated agents, ${EVENTS} decisions per batch\n`);
  if (!process.argv.includes('--skip-build')) await buildRegent();
  const work = workDir('decisions');
  const env = { REGENT_DECISION_LOGS_MAX_BYTES: String(512 * 1024 * 1024) };
  const on = await startRegentProcess({ dataDir: join(work, 'on'), seedDir: EXAMPLE_POLICIES, node: node.path, env });
  const off = await startRegentProcess({ dataDir: join(work, 'off'), seedDir: EXAMPLE_POLICIES, node: node.path, env: { ...env, REGENT_METRICS_ENABLED: 'false' } });
  if ((await fetch(`${off.url}/metrics`)).status !== 404) throw new SetupError('the metrics-off Regent still serves /metrics');
  const etagOf = async (url: string): Promise<string> => {
    const response = await fetch(`${url}/bundles/rbac`);
    const etag = response.headers.get('etag');
    if (response.status !== 200 || !etag) throw new SetupError(`GET /bundles/rbac answered ${response.status}`);
    const check = await fetch(`${url}/bundles/rbac`, { headers: { 'If-None-Match': etag } });
    if (check.status !== 304) throw new SetupError(`If-None-Match answered ${check.status}, not 304`);
    return etag;
  };
  const onEtag = await etagOf(on.url);
  const offEtag = await etagOf(off.url);

  // Warm-up: JIT, connections, the first segments.
  await wrk(wrkPath, `${on.url}/bundles/rbac`, onEtag, 2);
  await wrk(wrkPath, `${off.url}/bundles/rbac`, offEtag, 2);
  await sender(on.url, 2);

  const alone: SenderResult[] = [];
  const cells = { metricsOn: [] as number[], metricsOff: [] as number[], withIngest: [] as number[], withPaced: [] as number[] };
  const during: SenderResult[] = [];
  const paced: SenderResult[] = [];
  let scrapes = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    alone.push(await sender(on.url, DURATION));
    await sleep(500);
    // On and off back to back, their order alternating by round, so drift in the machine's load hits both.
    const measureOn = async (): Promise<void> => {
      const withMetrics = await scraped(on.url, () => wrk(wrkPath, `${on.url}/bundles/rbac`, onEtag, DURATION));
      cells.metricsOn.push(withMetrics.value);
      scrapes += withMetrics.scrapes;
      await sleep(500);
    };
    const measureOff = async (): Promise<void> => {
      cells.metricsOff.push(await wrk(wrkPath, `${off.url}/bundles/rbac`, offEtag, DURATION));
      await sleep(500);
    };
    if (round % 2 === 1) {
      await measureOn();
      await measureOff();
    } else {
      await measureOff();
      await measureOn();
    }
    const [served, sent] = await Promise.all([wrk(wrkPath, `${on.url}/bundles/rbac`, onEtag, DURATION), sender(on.url, DURATION)]);
    cells.withIngest.push(served);
    during.push(sent);
    await sleep(500);
    const [servedPaced, sentPaced] = await Promise.all([wrk(wrkPath, `${on.url}/bundles/rbac`, onEtag, DURATION), sender(on.url, DURATION, PACE)]);
    cells.withPaced.push(servedPaced);
    paced.push(sentPaced);
    await sleep(500);
    process.stdout.write(`round ${round}/${ROUNDS} done\n`);
  }

  const rate = (results: SenderResult[], key: 'batches' | 'events'): number => median(results.map((result) => result[key] / result.seconds));
  const errors = [...alone, ...during, ...paced].reduce((sum, result) => sum + result.errors, 0);
  console.log(`\nIngestion (${AGENTS} agents uploading back to back, ${EVENTS} decisions per batch, ${fmtNum(alone[0]!.batchBytes)} bytes gzip'd per batch; median of ${ROUNDS} rounds of ${DURATION} s):\n`);
  printTable(['load', 'batches/s', 'decisions/s', 'MB/s gzip\'d', 'batch latency p50 / p99', 'refused'], [
    ['back to back, alone', fmtNum(rate(alone, 'batches')), fmtNum(rate(alone, 'events')), (median(alone.map((r) => r.compressedBytes / r.seconds)) / 1e6).toFixed(2), `${median(alone.map((r) => r.p50)).toFixed(1)} / ${median(alone.map((r) => r.p99)).toFixed(1)} ms`, String(alone.reduce((s, r) => s + r.errors, 0))],
    [`paced (${PACE} batch/s per agent) + wrk 304 load`, fmtNum(rate(paced, 'batches')), fmtNum(rate(paced, 'events')), (median(paced.map((r) => r.compressedBytes / r.seconds)) / 1e6).toFixed(2), `${median(paced.map((r) => r.p50)).toFixed(1)} / ${median(paced.map((r) => r.p99)).toFixed(1)} ms`, String(paced.reduce((s, r) => s + r.errors, 0))],
    ['back to back + wrk 304 load', fmtNum(rate(during, 'batches')), fmtNum(rate(during, 'events')), (median(during.map((r) => r.compressedBytes / r.seconds)) / 1e6).toFixed(2), `${median(during.map((r) => r.p50)).toFixed(1)} / ${median(during.map((r) => r.p99)).toFixed(1)} ms`, String(during.reduce((s, r) => s + r.errors, 0))],
  ]);
  const on304 = median(cells.metricsOn);
  console.log(`\nBundle serving (304/s, wrk -t1 -c${CONNECTIONS} -d${DURATION}s, median of ${ROUNDS} interleaved rounds):\n`);
  printTable(['Regent', '304/s', 'vs metrics on, no uploads'], [
    ['metrics on, /metrics scraped every second, no uploads', fmtNum(on304), '1.00x'],
    ['metrics off (metrics.enabled: false), no uploads', fmtNum(median(cells.metricsOff)), `${(median(cells.metricsOff) / on304).toFixed(2)}x`],
    [`metrics on, while ${AGENTS} agents upload ${PACE} batch/s each`, fmtNum(median(cells.withPaced)), `${(median(cells.withPaced) / on304).toFixed(2)}x`],
    [`metrics on, while ${AGENTS} agents upload back to back`, fmtNum(median(cells.withIngest)), `${(median(cells.withIngest) / on304).toFixed(2)}x`],
  ]);
  const paired = cells.metricsOn.map((value, index) => value / cells.metricsOff[index]!);
  console.log(`\nmetrics on / off per round (paired, back to back): ${paired.map((ratio) => ratio.toFixed(3)).join(', ')}; median ${median(paired).toFixed(3)}`);
  console.log(`metrics on / off (medians): ${(on304 / median(cells.metricsOff)).toFixed(3)}; 304 rate under paced uploads / without: ${(median(cells.withPaced) / on304).toFixed(3)}; under back-to-back uploads / without: ${(median(cells.withIngest) / on304).toFixed(3)}; /metrics scrapes answered: ${scrapes}; batches refused: ${errors}`);
  console.log(`per round (304/s): on ${cells.metricsOn.map(fmtNum).join(', ')}; off ${cells.metricsOff.map(fmtNum).join(', ')}; paced uploads ${cells.withPaced.map(fmtNum).join(', ')}; back-to-back uploads ${cells.withIngest.map(fmtNum).join(', ')}`);
  const stored = await (await fetch(`${on.url}/metrics`)).text();
  console.log(`stored: ${/^regent_decision_log_records (\S+)/m.exec(stored)?.[1]} decisions in ${/^regent_decision_log_segments (\S+)/m.exec(stored)?.[1]} segments, ${/^regent_decision_log_bytes (\S+)/m.exec(stored)?.[1]} bytes (retention at 512 MiB)`);
});
