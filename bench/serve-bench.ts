/**
 * Serve benchmark: unchanged-bundle answers (304) per second from Regent (built, separate process, dev
 * mode) against nginx serving the same bytes as a static file (1 worker, `etag on`), both loaded by
 * `wrk -t1 -c64` on loopback. Also 200 answers per second, for information. Run by hand:
 *
 *   node --import tsx bench/serve-bench.ts [--duration 10] [--rounds 1] [--connections 64] [--workers 1] [--skip-build] [--autocannon] [--node <path>]
 *
 * `--workers N` runs Regent with `REGENT_WORKERS=N` (worker processes) and nginx with N workers.
 *
 * `--node` runs Regent, the bare node:http servers and autocannon on that Node binary (default: the Node
 * running this script); the results name the version.
 *
 * Needs `nginx` and preferably `wrk` on PATH (Debian: apt-get install -y wrk nginx); without wrk it
 * falls back to autocannon (a devDependency) in its own process, which saturates before nginx does.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchNode, describeNode } from './lib/bench-node.js';
import { generateRepo } from './lib/generate-repo.js';
import { BENCH_DIR } from './lib/harness.js';
import {
  arg, buildRegent, EXAMPLE_POLICIES, PROJECT_ROOT, fmtNum, freePort, median, printTable, run, runBenchmark, SetupError, sleep, spawnChild, startRegentProcess, waitFor, workDir,
} from './lib/harness.js';

const DURATION = Number(arg('duration', '10'));
const CONNECTIONS = Number(arg('connections', '64'));
const ROUNDS = Number(arg('rounds', '1'));
const SKIP_BUILD = process.argv.includes('--skip-build');
const WORKERS = Number(arg('workers', '1'));

interface WrkResult {
  rps: number;
  non2xx3xx: number;
  socketErrors: string;
  requests: number;
}

function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return undefined;
}

/** wrk when installed, else autocannon (a devDependency) in its own process. */
async function wrk(wrkPath: string | undefined, url: string, seconds: number, etag?: string): Promise<WrkResult> {
  if (!wrkPath) return autocannon(url, seconds, etag);
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...(etag ? ['-H', `If-None-Match: ${etag}`] : []), url];
  const result = await run(wrkPath, args, { timeoutMs: (seconds + 30) * 1000 });
  if (result.code !== 0) throw new Error(`wrk ${args.join(' ')} exited with ${result.code}: ${result.stderr}`);
  const out = result.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk output:\n${out}`);
  return {
    rps,
    non2xx3xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: /Socket errors:\s+(.*)/.exec(out)?.[1]?.trim() ?? 'none',
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
  };
}

async function autocannon(url: string, seconds: number, etag?: string): Promise<WrkResult> {
  const args = [join(PROJECT_ROOT, 'node_modules', 'autocannon', 'autocannon.js'), '-c', String(CONNECTIONS), '-d', String(seconds), '-j', ...(etag ? ['-H', `If-None-Match=${etag}`] : []), url];
  const result = await run(benchNode().path, args, { timeoutMs: (seconds + 30) * 1000 });
  if (result.code !== 0) throw new Error(`autocannon exited with ${result.code}: ${result.stderr}`);
  const out = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { requests?: { average?: number; total?: number }; errors?: number; '1xx'?: number; '4xx'?: number; '5xx'?: number };
  if (typeof out.requests?.average !== 'number') throw new Error(`cannot read autocannon output:\n${result.stdout}`);
  return { rps: out.requests.average, non2xx3xx: (out['1xx'] ?? 0) + (out['4xx'] ?? 0) + (out['5xx'] ?? 0), socketErrors: out.errors ? `${out.errors} errors` : 'none', requests: out.requests.total ?? 0 };
}

/** One request, to check the server answers what we are about to load it with. */
async function probe(url: string, etag?: string): Promise<{ status: number; etag: string | null; bytes: Buffer }> {
  const response = await fetch(url, { headers: etag ? { 'If-None-Match': etag } : {} });
  return { status: response.status, etag: response.headers.get('etag'), bytes: Buffer.from(await response.arrayBuffer()) };
}

runBenchmark('serve-bench: 304 answers per second, Regent vs nginx', async () => {
  const wrkPath = process.argv.includes('--autocannon') ? undefined : which('wrk');
  const nginxPath = which('nginx');
  if (!nginxPath) throw new SetupError('nginx not found on PATH: apt-get update && apt-get install -y nginx');
  const loader = wrkPath ? `wrk -t1 -c${CONNECTIONS} -d${DURATION}s` : `autocannon -c ${CONNECTIONS} -d ${DURATION} (wrk not installed)`;
  const node = benchNode();
  console.log(`Regent, the bare node:http servers${wrkPath ? '' : ' and autocannon'} run on ${describeNode(node)}\n`);
  const work = workDir('serve');
  if (!SKIP_BUILD) await buildRegent();

  // Seed: the example policies (rbac, datasets) plus a generated `svc` bundle of about 100 KB.
  const seedDir = join(work, 'seed');
  const extra = '  rbac:\n    paths: [rbac]\n    roots: [rbac]\n  datasets:\n    paths: [datasets]\n    roots: [datasets]\n';
  generateRepo(seedDir, { modules: 110, dataBytes: 96 * 1024, testEvery: 10, extraBundlesYaml: extra });
  cpSync(join(EXAMPLE_POLICIES, 'rbac'), join(seedDir, 'rbac'), { recursive: true });
  cpSync(join(EXAMPLE_POLICIES, 'datasets'), join(seedDir, 'datasets'), { recursive: true });

  const regent = await startRegentProcess({ dataDir: join(work, 'data'), seedDir, node: node.path, logLevel: 'warn', env: { REGENT_WORKERS: String(WORKERS) } });
  const www = join(work, 'www');
  mkdirSync(www, { recursive: true });
  const cases: Array<{ bundle: string; size: number; regentEtag: string }> = [];
  for (const bundle of ['rbac', 'svc']) {
    const first = await probe(`${regent.url}/bundles/${bundle}`);
    if (first.status !== 200 || !first.etag) throw new SetupError(`Regent answered ${first.status} for /bundles/${bundle}`);
    writeFileSync(join(www, `${bundle}.tar.gz`), first.bytes);
    cases.push({ bundle, size: first.bytes.length, regentEtag: first.etag });
  }

  // nginx: as many workers as Regent, etag on, no access log, temp paths in the work dir.
  const nginxPort = await freePort();
  const nginxDir = join(work, 'nginx');
  mkdirSync(join(nginxDir, 'tmp'), { recursive: true });
  const temp = (name: string): string => `${name}_temp_path ${join(nginxDir, 'tmp', name)};`;
  writeFileSync(join(nginxDir, 'nginx.conf'), `${process.getuid?.() === 0 ? 'user root root;\n' : ''}worker_processes ${WORKERS};
daemon off;
master_process on;
pid ${join(nginxDir, 'nginx.pid')};
error_log ${join(nginxDir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  etag on;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  server {
    listen 127.0.0.1:${nginxPort};
    root ${www};
  }
}
`);
  const nginx = spawnChild(nginxPath, ['-p', nginxDir, '-e', join(nginxDir, 'error.log'), '-c', join(nginxDir, 'nginx.conf')]);
  const nginxUrl = `http://127.0.0.1:${nginxPort}`;
  await waitFor('nginx answering', async () => {
    if (nginx.process.exitCode !== null) throw new SetupError(`nginx exited with ${nginx.process.exitCode}: ${nginx.output()}${readFileSync(join(nginxDir, 'error.log'), 'utf8')}`);
    return (await fetch(`${nginxUrl}/rbac.tar.gz`)).status === 200;
  }, 10_000);

  const rows: string[][] = [];
  const info: string[][] = [];
  const perRound: string[][] = [];
  // The DESIGN baseline: bare node:http comparing If-None-Match, one process per bundle file.
  const bare = new Map<string, string>();
  for (const c of cases) {
    const port = await freePort();
    const server = spawnChild(node.path, ['--import', 'tsx', join(BENCH_DIR, 'lib', 'bare-server.ts'), String(port), join(www, `${c.bundle}.tar.gz`), c.regentEtag]);
    await waitFor('bare node:http server', async () => server.output().includes('listening'), 20_000);
    bare.set(c.bundle, `http://127.0.0.1:${port}/bundles/${c.bundle}`);
  }

  const nginxVersion = (await run(nginxPath, ['-v'])).stderr.trim();
  interface Target { label: string; url: string; etag?: string }
  const plans = [];
  for (const c of cases) {
    const regentUrl = `${regent.url}/bundles/${c.bundle}`;
    const nginxFileUrl = `${nginxUrl}/${c.bundle}.tar.gz`;
    const fromNginx = await probe(nginxFileUrl);
    if (fromNginx.status !== 200 || !fromNginx.etag || !fromNginx.bytes.equals(readFileSync(join(www, `${c.bundle}.tar.gz`)))) {
      throw new SetupError(`nginx did not serve ${c.bundle}.tar.gz as written (status ${fromNginx.status}, etag ${fromNginx.etag})`);
    }
    const nginxEtag = fromNginx.etag;
    const bareUrl = bare.get(c.bundle)!;
    for (const [name, url, etag] of [['Regent', regentUrl, c.regentEtag], ['nginx', nginxFileUrl, nginxEtag], ['bare node:http', bareUrl, c.regentEtag]] as const) {
      const check = await probe(url, etag);
      if (check.status !== 304 || check.bytes.length !== 0) throw new SetupError(`${name} answered ${check.status} (${check.bytes.length} bytes) to If-None-Match ${etag}; expected an empty 304`);
    }
    console.log(`${c.bundle}: ${fmtNum(c.size)} bytes; Regent ETag ${c.regentEtag.slice(0, 18)}..., nginx ETag ${nginxEtag}; all three answer 304 to their ETag`);
    // Warm-up (JIT, connection setup).
    await wrk(wrkPath, nginxFileUrl, 2, nginxEtag);
    await wrk(wrkPath, regentUrl, 2, c.regentEtag);
    await wrk(wrkPath, bareUrl, 2, c.regentEtag);
    const targets: Target[] = [
      { label: 'nginx 304', url: nginxFileUrl, etag: nginxEtag },
      { label: 'Regent 304', url: regentUrl, etag: c.regentEtag },
      { label: 'bare 304', url: bareUrl, etag: c.regentEtag },
      { label: 'nginx 200', url: nginxFileUrl },
      { label: 'Regent 200', url: regentUrl },
    ];
    plans.push({ c, targets, results: new Map<string, number[]>(targets.map((t) => [t.label, []])) });
  }

  // Rounds interleave the servers so machine noise hits them alike; each cell is the median over rounds.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const plan of plans) {
      for (const target of plan.targets) {
        const result = await wrk(wrkPath, target.url, DURATION, target.etag);
        plan.results.get(target.label)!.push(result.rps);
        if (result.non2xx3xx > 0 || result.socketErrors !== 'none') info.push([plan.c.bundle, `${target.label} (round ${round})`, String(result.non2xx3xx), result.socketErrors]);
        await sleep(300);
      }
    }
    if (ROUNDS > 1) process.stdout.write(`round ${round}/${ROUNDS} done\n`);
  }
  for (const plan of plans) {
    const get = (label: string): number => median(plan.results.get(label)!);
    const per = (label: string): string => plan.results.get(label)!.map(fmtNum).join(', ');
    rows.push([
      `${plan.c.bundle} (${(plan.c.size / 1024).toFixed(1)} KiB)`,
      fmtNum(get('nginx 304')), fmtNum(get('Regent 304')), `${(get('Regent 304') / get('nginx 304')).toFixed(2)}x`,
      `${fmtNum(get('bare 304'))} (${(get('bare 304') / get('nginx 304')).toFixed(2)}x)`,
      fmtNum(get('nginx 200')), fmtNum(get('Regent 200')), `${(get('Regent 200') / get('nginx 200')).toFixed(2)}x`,
    ]);
    if (ROUNDS > 1) for (const label of plan.results.keys()) perRound.push([plan.c.bundle, label, per(label)]);
  }

  console.log(`\n${nginxVersion}, ${WORKERS} worker(s), etag on; Regent (REGENT_WORKERS=${WORKERS}) and bare node:http: node ${node.version}, dist/main.js --dev, log level warn; ${loader} on 127.0.0.1; median of ${ROUNDS} interleaved round(s)\n`);
  printTable(['bundle', 'nginx 304/s', 'Regent 304/s', 'Regent/nginx 304', 'bare node:http 304/s (vs nginx)', 'nginx 200/s', 'Regent 200/s', 'Regent/nginx 200'], rows);
  if (perRound.length > 0) printTable(['bundle', 'server', 'req/s per round'], perRound);
  if (info.length > 0) printTable(['bundle', 'run', 'non-2xx/3xx', 'socket errors'], info);
  const lines = regent.output().split('\n').filter((line) => /"level":(4|5|6)0/.test(line) && !line.includes('development mode'));
  const readiness = lines.filter((line) => line.includes('"route":"/health/ready","status":503'));
  const problems = lines.filter((line) => !readiness.includes(line));
  if (readiness.length > 0) console.log(`note: Regent logged ${readiness.length} startup readiness probes (503 before the first activation) at level warn`);
  console.log(problems.length > 0 ? `Regent logged ${problems.length} other warnings/errors, first:\n${problems.slice(0, 3).join('\n')}` : 'Regent logged no other warnings or errors besides the dev-key notice.');
});
