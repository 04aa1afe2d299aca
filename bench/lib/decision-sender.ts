/**
 * Load client of `decision-log-bench`, in its own process: N simulated OPA agents, each uploading
 * decision-log batches to `POST /logs` back to back (a closed loop: the next batch once the last one is
 * answered), for a duration. Batches look like OPA's: a gzip'd JSON array of `EventV1` objects with
 * labels, decision ids, bundle revisions, an input of a few hundred bytes, a result and OPA's metrics.
 * Prints one JSON line: batches and events acknowledged, errors, bytes, latency percentiles.
 *
 *   node --import tsx bench/lib/decision-sender.ts <url> <agents> <seconds> <eventsPerBatch> [<batchesPerSecondPerAgent>]
 *
 * With a rate, each agent uploads at that pace (starting at a random offset) instead of back to back.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';

const [url, agentsArg, secondsArg, eventsArg] = process.argv.slice(2);
const agents = Number(agentsArg ?? 100);
const seconds = Number(secondsArg ?? 10);
const eventsPerBatch = Number(eventsArg ?? 50);
const pace = Number(process.argv[6] ?? 0);
const { hostname, port } = new URL(url!);
const keepAlive = new Agent({ keepAlive: true, maxSockets: agents });
const subjects = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'mallory'];
const actions = ['view', 'edit', 'create', 'delete', 'run'];

function batch(agent: number, sequence: number): Buffer {
  const id = `bench-agent-${String(agent).padStart(3, '0')}-${process.pid}`;
  const now = Date.now();
  const events = Array.from({ length: eventsPerBatch }, (_, i) => ({
    labels: { id, version: '1.22.2', region: agent % 2 === 0 ? 'eu-west-1' : 'us-east-1', cluster: `cluster-${agent % 7}` },
    decision_id: randomUUID(),
    bundles: { rbac: { revision: 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a0' }, datasets: { revision: 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a0' } },
    path: i % 4 === 0 ? 'datasets/allow' : 'rbac/allow',
    input: {
      subject: subjects[(sequence + i) % subjects.length], action: actions[i % actions.length],
      resource: { type: i % 3 === 0 ? 'agent' : 'workflow', project: ['apollo', 'zeus', 'hermes'][i % 3], id: `res-${sequence}-${i}` },
      request: { method: 'POST', path: `/api/v1/workflows/${sequence}/${i}`, client: '10.0.0.12', trace: randomUUID() },
    },
    result: (sequence + i) % 3 !== 0,
    requested_by: '127.0.0.1:50000',
    timestamp: new Date(now + i).toISOString().replace('Z', '123456Z'),
    metrics: { counter_server_query_cache_hit: 1, timer_rego_input_parse_ns: 51234, timer_rego_query_eval_ns: 40123, timer_server_handler_ns: 210456 },
    req_id: sequence * eventsPerBatch + i,
  }));
  return gzipSync(JSON.stringify(events));
}

function post(body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, method: 'POST', path: '/logs', agent: keepAlive, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

const latencies: number[] = [];
let batches = 0;
let events = 0;
let errors = 0;
let compressedBytes = 0;
const deadline = performance.now() + seconds * 1000;
// Pre-built batches per agent (a handful each, reused): the sender measures Regent, not its own JSON and gzip.
const prepared = Array.from({ length: agents }, (_, agent) => Array.from({ length: 4 }, (_, sequence) => batch(agent, sequence)));

await Promise.all(Array.from({ length: agents }, async (_, agent) => {
  const period = pace > 0 ? 1000 / pace : 0;
  let nextAt = performance.now() + Math.random() * period;
  for (let sequence = 0; performance.now() < deadline; sequence++) {
    if (period > 0) {
      const wait = nextAt - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      nextAt += period;
      if (performance.now() >= deadline) break;
    }
    const body = prepared[agent]![sequence % 4]!;
    const started = performance.now();
    const status = await post(body);
    if (status === 204) {
      latencies.push(performance.now() - started);
      batches++;
      events += eventsPerBatch;
      compressedBytes += body.length;
    } else {
      errors++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}));
latencies.sort((a, b) => a - b);
const at = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
process.stdout.write(`${JSON.stringify({ batches, events, errors, compressedBytes, seconds, p50: at(50), p99: at(99), batchBytes: prepared[0]![0]!.length })}\n`);
keepAlive.destroy();
