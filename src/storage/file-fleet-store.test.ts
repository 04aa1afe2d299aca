import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import type { AgentRecord } from '../domain/fleet/fleet-registry.js';
import { FileFleetStore } from './file-fleet-store.js';

const agent: AgentRecord = {
  agentId: 'a-1', labels: { id: 'a-1', version: '1.22.2' }, plugins: { bundle: 'OK' },
  bundles: [{ name: 'rbac', activeRevision: 'f'.repeat(40) }], firstSeenAt: '2026-11-30T10:00:00.000Z', reportedAt: '2026-11-30T10:01:00.000Z',
};

describe('FileFleetStore', () => {
  test('saves and loads the agents; no file is an empty fleet', async () => {
    const dir = tempDirForTest();
    const store = FileFleetStore.create(join(dir, 'fleet', 'agents.json'), silentLogger());
    expect(await store.load()).toEqual([]);
    await store.save([agent]);
    expect(await store.load()).toEqual([agent]);
  });

  test('writes exactly the JSON of the records in chunks, and reads names like __proto__ back as data', async () => {
    const dir = tempDirForTest();
    const path = join(dir, 'agents.json');
    const store = FileFleetStore.create(path, silentLogger());
    const hostile = JSON.parse('{"agentId":"a-2","labels":{"__proto__":"p","constructor":"c","id":"a-2"},"bundles":[{"name":"__proto__","activeRevision":"constructor"}],"plugins":{"__proto__":"OK"},"firstSeenAt":"2026-11-30T10:00:00.000Z","reportedAt":"2026-11-30T10:01:00.000Z"}') as AgentRecord;
    const agents = [...Array.from({ length: 450 }, (_, i) => ({ ...agent, agentId: `a-${i + 10}` })), hostile];
    await store.save(agents);
    expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify({ version: 1, agents })}\n`);
    const loaded = await store.load();
    expect(loaded).toHaveLength(451);
    const back = loaded.at(-1)!;
    expect(Object.getPrototypeOf(back.labels)).toBeNull();
    expect(Object.keys(back.labels)).toEqual(['__proto__', 'constructor', 'id']);
    expect(back.labels.__proto__).toBe('p');
    expect(back.plugins.__proto__).toBe('OK');
    expect(JSON.stringify(back)).toBe(JSON.stringify(hostile));
  });

  test('moves an unreadable snapshot aside and starts empty', async () => {
    const dir = tempDirForTest();
    const path = join(dir, 'agents.json');
    writeFileSync(path, '{"agents": [{"agentId": 1}]}');
    const logger = silentLogger();
    expect(await FileFleetStore.create(path, logger).load()).toEqual([]);
    expect(readdirSync(dir).some((name) => name.startsWith('agents.json.corrupt-'))).toBe(true);
    expect(logger.entries).toEqual([expect.objectContaining({ level: 'error' })]);
  });
});
