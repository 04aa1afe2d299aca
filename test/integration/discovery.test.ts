import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import type { AgentView } from '../../src/domain/fleet/fleet-registry.js';
import { adminClient } from '../helpers/admin-client.js';
import { writeAgentTokensFile, writeTokenFile } from '../helpers/agent-tokens.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { PROJECT_ROOT } from '../helpers/regent-process.js';
import { startTestRegent } from '../helpers/start-regent.js';

type Regent = Awaited<ReturnType<typeof startTestRegent>>;

/** The `discovery` section of the example boot configuration, as an operator would use it. */
const EXAMPLE_DISCOVERY = (parse(readFileSync(join(PROJECT_ROOT, 'opa-config', 'config.discovery.yaml'), 'utf8')) as { discovery: Record<string, unknown> }).discovery;

/** An agent started from the example boot configuration: no bundles of its own, only discovery. */
function discoveryAgent(regent: Regent, options: { verificationKey?: string; bearerTokenPath?: string } = {}) {
  return startOpaAgent({ ...agentOptionsFor(regent), bundles: [], extraConfig: { discovery: EXAMPLE_DISCOVERY }, ...options });
}

async function changeDiscoveryConfig(regent: Regent, change: (config: { bundles: Record<string, unknown> }) => void) {
  const head = (await regent.store.head())!;
  const entry = (await regent.store.listTree(head)).find((file) => file.path === 'discovery/data.json')!;
  const data = JSON.parse((await regent.store.readBlobs([entry.blobId])).get(entry.blobId)!.toString('utf8')) as { config: { bundles: Record<string, unknown> } };
  change(data.config);
  return regent.store.commit({
    changes: [{ op: 'put', path: 'discovery/data.json', content: Buffer.from(JSON.stringify(data, null, 2)) }],
    message: 'Change the agents\' configuration', author: { name: 'Test', email: 'test@example.test' }, expectedHead: head,
  });
}

describe('OPA discovery served by Regent', () => {
  test('an agent booting from the example discovery config pulls the bundles it names, then follows a change of it through long polling', async () => {
    const regent = await startTestRegent();
    const head = (await regent.store.head())!;
    const agent = await discoveryAgent(regent);
    await eventually(async () => (await agent.activeRevision('rbac')) === head && (await agent.activeRevision('datasets')) === head, 20_000, () => agent.logs().slice(-3000));
    expect(await agent.query('rbac/allow', { subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } })).toBe(true);
    // The discovered configuration reports status to Regent: the agent shows up in the fleet view.
    const auditor = adminClient(regent, { sub: 'ada', role: 'auditor' });
    await eventually(async () => ((await (await auditor.get('/api/fleet')).json()) as { agents: AgentView[] }).agents.length === 1, 15_000, () => agent.logs().slice(-2000));

    // Drop `datasets` from the agents' configuration: the agent stops enforcing it, well before any poll interval.
    const changed = await changeDiscoveryConfig(regent, (config) => {
      delete config.bundles.datasets;
    });
    await eventually(async () => (await agent.activeRevision('datasets')) === undefined, 10_000, () => agent.logs().slice(-3000));
    expect(await agent.query('datasets/allow', { token: { org: 'acme', groups: ['sales-eu'] }, dataset: 'sales-eu', action: 'read' })).toBeUndefined();
    await eventually(async () => (await agent.activeRevision('rbac')) === changed.revision, 10_000, () => agent.logs().slice(-3000));
  });

  test('the discovery bundle is signed: an agent with another public key takes no configuration from it', async () => {
    const regent = await startTestRegent();
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const agent = await discoveryAgent(regent, { verificationKey: stranger });
    await eventually(async () => agent.logs().includes('Discovery download failed: failed to verify JWT signature'), 15_000, () => agent.logs().slice(-3000));
    expect(await agent.activeRevision('rbac')).toBeUndefined();
  });

  test('with agent credentials, the token must list the discovery bundle and the bundles it names', async () => {
    const tokens = writeAgentTokensFile([{ name: 'booting', bundles: ['discovery', 'rbac', 'datasets'] }]);
    const regent = await startTestRegent({ config: { agents: { tokensFile: tokens.path } } });
    const head = (await regent.store.head())!;
    const agent = await discoveryAgent(regent, { bearerTokenPath: writeTokenFile(tokens.tokens.booting!) });
    await eventually(async () => (await agent.activeRevision('datasets')) === head, 20_000, () => agent.logs().slice(-3000));
  });
});
