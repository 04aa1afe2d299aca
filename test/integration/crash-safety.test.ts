import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AdminTokenIssuer } from '../../src/domain/auth/admin-token-issuer.js';
import type { AuditRecord } from '../../src/domain/audit/audit-log.js';
import { loadAdminTokenKey } from '../../src/keys/load-admin-token-key.js';
import { FileAuditLog } from '../../src/storage/file-audit-log.js';
import { git, silentLogger } from '../helpers/git-repo.js';
import { spawnRegentProcess, waitUntilReady } from '../helpers/regent-process.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

function tokenFor(dataDir: string): string {
  const { key } = loadAdminTokenKey({ algorithms: ['HS256'] }, { dataDir, dev: true, logger: silentLogger() });
  return AdminTokenIssuer.create({ algorithm: 'HS256', key, issuer: 'regent', audience: 'regent-admin', roleClaim: 'regent_role', maxTokenLifetimeSeconds: 3600 })
    .issue({ sub: 'crash', role: 'admin', name: 'Crash Test', email: 'crash@example.test' }).token;
}

describe('kill -9 in the middle of admin API writes', () => {
  test('every acknowledged write survives, nothing half-written is visible, the audit chain holds, and Regent serves again', async () => {
    const dataDir = tempDirForTest('regent-crash-');
    const first = spawnRegentProcess(dataDir);
    const firstUrl = await first.listening;
    await waitUntilReady(firstUrl);
    const token = tokenFor(dataDir);
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    let head = ((await (await fetch(`${firstUrl}/api/versions/head`, { headers })).json()) as { revision: string }).revision;

    // Sequential writes, each on the previous one's revision; the kill lands while one is in flight.
    const acknowledged: Array<{ revision: string; path: string }> = [];
    const killAfter = 6;
    for (let i = 0; i <= killAfter; i++) {
      const path = `rbac/crash/w${i}/policy.rego`;
      const write = fetch(`${firstUrl}/api/policies/${path}`, {
        method: 'PUT', headers, body: JSON.stringify({ content: `package rbac.crash.w${i}\n\nn := ${i}\n`, message: `crash write ${i}`, baseRevision: head }),
      }).then((response) => response, () => undefined);
      if (i === killAfter) {
        // Let the write get into validation or the commit, then pull the plug.
        await new Promise((done) => setTimeout(done, 40));
        first.child.kill('SIGKILL');
        await new Promise((done) => first.child.once('exit', done));
      }
      const response = await write;
      if (response?.status === 201) {
        head = ((await response.json()) as { revision: string }).revision;
        acknowledged.push({ revision: head, path });
      } else {
        expect(i).toBe(killAfter);
      }
    }
    expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter);

    // The store is consistent, and every acknowledged revision is on the branch with its file.
    const gitDir = join(dataDir, 'store.git');
    await git(['fsck', '--strict', '--no-dangling'], { gitDir });
    const branchHead = (await git(['rev-parse', 'refs/heads/main'], { gitDir })).trim();
    for (const { revision, path } of acknowledged) {
      await git(['merge-base', '--is-ancestor', revision, branchHead], { gitDir });
      expect((await git(['cat-file', '-t', `${branchHead}:${path}`], { gitDir })).trim()).toBe('blob');
    }

    // The audit log: chain intact after recovery, one success record per acknowledged write.
    const audit = await FileAuditLog.open(join(dataDir, 'audit', 'audit.jsonl'));
    try {
      expect(await audit.verify()).toMatchObject({ ok: true });
      const { records } = await audit.query({ action: 'policy.write', limit: 500 });
      const written = new Set(records.filter((record: AuditRecord) => record.outcome === 'success').map((record) => record.revision));
      for (const { revision } of acknowledged) expect(written.has(revision)).toBe(true);
    } finally {
      await audit.close();
    }

    // Restarted on the same data directory, Regent serves the branch head and takes writes again.
    const second = spawnRegentProcess(dataDir);
    const secondUrl = await second.listening;
    await waitUntilReady(secondUrl);
    const status = (await (await fetch(`${secondUrl}/status`)).json()) as { active?: string; head?: string };
    expect(status.head).toBe(branchHead);
    // Every commit made through the API is in the audit log, including one written just before the kill.
    const requestCommits = (await git(['log', '--format=%H %(trailers:key=Regent-Request-Id,valueonly,separator=)', 'refs/heads/main'], { gitDir }))
      .split('\n').map((line) => line.trim().split(' ')).filter((parts) => parts.length === 2 && parts[1] !== '').map((parts) => parts[0]!);
    expect(requestCommits.length).toBeGreaterThanOrEqual(acknowledged.length);
    const writes = (await (await fetch(`${secondUrl}/api/audit?limit=500`, { headers })).json()) as { records: AuditRecord[] };
    const audited = new Set(writes.records.filter((record) => record.action === 'policy.write' && record.outcome === 'success').map((record) => record.revision));
    for (const revision of requestCommits) expect(audited.has(revision), revision).toBe(true);

    const after = await fetch(`${secondUrl}/api/policies/rbac/crash/after/policy.rego`, {
      method: 'PUT', headers, body: JSON.stringify({ content: 'package rbac.crash.after\n\nok := true\n', message: 'after the crash', baseRevision: branchHead }),
    });
    expect(after.status).toBe(201);
    second.child.kill('SIGTERM');
    await new Promise((done) => second.child.once('exit', done));
  });
});
