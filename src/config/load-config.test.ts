import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { loadConfig } from './load-config.js';

describe('loadConfig', () => {
  test('a __proto__ key in the YAML file is an unknown key, never a prototype that supplies settings', () => {
    const file = join(tempDirForTest(), 'config.yaml');
    writeFileSync(file, '__proto__:\n  dev: true\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(expect.objectContaining({ code: 'invalid_config', message: expect.stringContaining('__proto__') }));
    writeFileSync(file, 'fleet:\n  __proto__:\n    maxAgents: 5\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(expect.objectContaining({ code: 'invalid_config', message: expect.stringContaining('__proto__') }));
  });

  test('http.maxJsonDepth and fleet.maxStoredBytes have bounded defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config.http.maxJsonDepth).toBe(100);
    expect(config.fleet.maxStoredBytes).toBe(64 * 1024 * 1024);
    const file = join(tempDirForTest(), 'config.yaml');
    writeFileSync(file, 'http:\n  maxJsonDepth: 100000\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(expect.objectContaining({ code: 'invalid_config', details: expect.objectContaining({ field: 'http.maxJsonDepth' }) }));
  });

  test('agent and gate keys come from their variables; agents.allowAnonymous only from the config file', () => {
    const config = loadConfig({ env: { REGENT_AGENT_TOKENS_FILE: '/etc/regent/agents.yaml', REGENT_AGENT_MAX_HELD_POLLS: '8', REGENT_GATE_MIN_AGENT_VERSION: 'v1.0.0', REGENT_AGENT_JWT_ISSUER: 'https://idp', REGENT_AGENT_JWT_AUDIENCE: 'regent', REGENT_AGENT_JWT_JWKS_FILE: '/etc/idp.jwks' } });
    expect(config.agents).toMatchObject({ tokensFile: '/etc/regent/agents.yaml', maxHeldPollsPerAgent: 8, allowAnonymous: false, jwt: { issuer: 'https://idp', audience: 'regent', jwksFile: '/etc/idp.jwks', algorithms: ['RS256'], bundlesClaim: 'regent_bundles' } });
    expect(config.gate.minAgentVersion).toBe('v1.0.0');
    expect(() => loadConfig({ env: { REGENT_AGENTS_ALLOW_ANONYMOUS: 'true' } })).toThrow(expect.objectContaining({ code: 'invalid_config', details: { field: 'agents.allowAnonymous' } }));
    expect(() => loadConfig({ env: { REGENT_GATE_MIN_AGENT_VERSION: 'latest' } })).toThrow(expect.objectContaining({ code: 'invalid_config', details: expect.objectContaining({ field: 'gate.minAgentVersion' }) }));
    const file = join(tempDirForTest(), 'config.yaml');
    writeFileSync(file, 'agents:\n  allowAnonymous: true\n');
    expect(loadConfig({ file, env: {} }).agents.allowAnonymous).toBe(true);
  });
});
