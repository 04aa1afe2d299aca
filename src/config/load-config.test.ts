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
});
