import { describe, expect, test } from 'vitest';
import { adminClient } from '../helpers/admin-client.js';
import { writeAgentTokensFile, writeTokenFile } from '../helpers/agent-tokens.js';
import { agentOptionsFor, eventually, startOpaAgent, type OpaAgent } from '../helpers/opa-agent.js';
import { floorOpaPath } from '../helpers/opa-path.js';
import { capturingLogger, startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

/** `strings.split_n` came after OPA v1.0.0: Regent's gate (v1.22.2, no floor) lets it through, a v1.0.0 agent cannot compile it. */
const SPLIT_N = 'package rbac.splitter\n\nparts := strings.split_n("a,b,c", ",", 2)\n';
const FINE = 'package rbac.splitter\n\nparts := split("a,b,c", ",")\n';
const WINDOW_MS = 6000;

async function commit(regent: Regent, content: string, message: string) {
  return regent.store.commit({
    changes: [{ op: 'put', path: 'rbac/splitter.rego', content: Buffer.from(content) }],
    message, author: { name: 'Test', email: 'test@example.test' }, expectedHead: (await regent.store.head())!,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A v1.0.0 agent that cannot activate the served revision (it lacks a built-in the revision uses; it does
 * not report its status, so the gate does not know its version) and a healthy v1.22.2 agent, both long
 * polling `rbac`. Returns how many full downloads of `rbac` each got in {@link WINDOW_MS} after the
 * failing revision was published, from Regent's completion log.
 */
async function failingAndHealthy(regent: Regent, records: () => Array<Record<string, unknown>>, agents: { failing: OpaAgent; healthy: OpaAgent }) {
  const before = (await regent.store.head())!;
  const bad = await commit(regent, SPLIT_N, 'Use strings.split_n (OPA v1.0.0 lacks it)');
  await eventually(async () => (await agents.healthy.activeRevision('rbac')) === bad.revision, 10_000, () => agents.healthy.logs().slice(-2000));
  const start = records().length;
  await sleep(WINDOW_MS);
  const downloads = records().slice(start).filter((record) => record.status === 200 && record.bundle === 'rbac' && record.revision === bad.revision);
  // OPA v1.0.0 says `Open Policy Agent/1.0.0`, later releases `Open-Policy-Agent/1.22.2`.
  const byVersion = (version: string) => downloads.filter((record) => new RegExp(`^Open.Policy.Agent/${version.replaceAll('.', '\\.')} `).test(String(record.userAgent))).length;
  expect(await agents.failing.activeRevision('rbac')).toBe(before);
  expect(agents.failing.logs()).toContain('strings.split_n');
  return { bad, failingDownloads: byVersion('1.0.0'), healthyDownloads: byVersion('1.22.2') };
}

describe('no download storms from agents that cannot activate a bundle', () => {
  test('a real v1.0.0 agent failing to activate a revision is held with backoff (per address and user agent), a healthy agent is not, and both take the fine next revision at once', async () => {
    const { logger, records } = capturingLogger('info');
    const regent = await startTestRegent({ logger });
    const failing = await startOpaAgent({ ...agentOptionsFor(regent), bundles: ['rbac'], opaBinary: floorOpaPath(), longPollSeconds: 30 });
    const healthy = await startOpaAgent({ ...agentOptionsFor(regent), bundles: ['rbac'], longPollSeconds: 30 });
    await Promise.all([failing.waitUntilReady(), healthy.waitUntilReady()]);

    const { failingDownloads, healthyDownloads } = await failingAndHealthy(regent, records, { failing, healthy });
    // Unheld, OPA v1.0.0 asks again at once after every failed activation: hundreds a second. Held from
    // 1 s doubling, it gets the bundle about 4 times in 6 s.
    if (process.env.STORM_FIGURES) console.log(`storm figures: failing=${failingDownloads} healthy=${healthyDownloads} in ${WINDOW_MS} ms`);
    expect(failingDownloads).toBeGreaterThanOrEqual(1);
    expect(failingDownloads).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(healthyDownloads).toBe(0);
    const { agents } = (await (await fetch(`${regent.url}/status`)).json()) as { agents: { refetches: { held: number; refetching: number } } };
    expect(agents.refetches.held).toBeGreaterThanOrEqual(1);
    expect(agents.refetches.refetching).toBe(1);

    const fine = await commit(regent, FINE, 'Use split');
    await eventually(async () => (await failing.activeRevision('rbac')) === fine.revision && (await healthy.activeRevision('rbac')) === fine.revision, 10_000, () => failing.logs().slice(-2000));
  });

  test('with agent tokens, re-fetches are recognised per agent identity, and the fleet view shows the failing agent with its error', async () => {
    const { logger, records } = capturingLogger('info');
    const tokens = writeAgentTokensFile([{ name: 'old-opa' }, { name: 'new-opa' }]);
    const regent = await startTestRegent({ logger, config: { agents: { tokensFile: tokens.path } } });
    const options = agentOptionsFor(regent);
    // An agent of OPA v1.0.0 that asks for `rbac` under two names: the second can never be activated
    // (its roots overlap the first's), which the gate cannot foresee; it reports its status.
    const source = { service: 'regent', resource: 'bundles/rbac', signing: { keyid: options.keyId }, polling: { min_delay_seconds: 60, max_delay_seconds: 120, long_polling_timeout_seconds: 30 } };
    const failing = await startOpaAgent({
      ...options, bundles: [], opaBinary: floorOpaPath(), bearerTokenPath: writeTokenFile(tokens.tokens['old-opa']!), reportStatus: true, labels: { name: 'old' },
      extraConfig: { bundles: { rbac: source, rbac_twin: source } },
    });
    const healthy = await startOpaAgent({ ...options, bundles: ['rbac'], longPollSeconds: 30, bearerTokenPath: writeTokenFile(tokens.tokens['new-opa']!), labels: { name: 'new' } });
    await healthy.waitUntilReady();
    const head = (await regent.store.head())!;
    // Whichever of the two names activates first wins; the other can then never be activated.
    let winner: 'rbac' | 'rbac_twin' | undefined;
    await eventually(async () => {
      if ((await failing.activeRevision('rbac')) === head) winner = 'rbac';
      else if ((await failing.activeRevision('rbac_twin')) === head) winner = 'rbac_twin';
      return winner !== undefined;
    }, 30_000, () => failing.logs().slice(-2000));
    const loser = winner === 'rbac' ? 'rbac_twin' : 'rbac';
    const start = records().length;
    await sleep(WINDOW_MS);
    const downloads = records().slice(start).filter((record) => record.status === 200 && record.bundle === 'rbac');
    const failingDownloads = downloads.filter((record) => record.agent === 'old-opa').length;
    if (process.env.STORM_FIGURES) console.log(`storm figures (tokens): failing=${failingDownloads} in ${WINDOW_MS} ms`);
    expect(failingDownloads).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(downloads.filter((record) => record.agent === 'new-opa')).toEqual([]);
    expect(records().some((record) => record.status === 200 && record.agent === 'old-opa' && record.refetch === true)).toBe(true);

    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    await eventually(async () => {
      const view = (await (await auditor.get('/api/fleet')).json()) as { failingAgents: Array<Record<string, unknown>>; failingAgentsTotal: number };
      return view.failingAgentsTotal === 1 && view.failingAgents[0]?.identity === 'old-opa' && view.failingAgents[0]?.bundle === loser
        && view.failingAgents[0]?.name === 'old' && String(view.failingAgents[0]?.message).includes('overlapping');
    }, 15_000, () => failing.logs().slice(-2000));

    // A new revision reaches both agents at once, although the old one is being held.
    const fine = await commit(regent, FINE, 'Add a module');
    await eventually(async () => (await failing.activeRevision(winner!)) === fine.revision && (await healthy.activeRevision('rbac')) === fine.revision, 10_000, () => failing.logs().slice(-2000));
  });
});
