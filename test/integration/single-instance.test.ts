import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { exitOf, listeningUrl, spawnRegentProcess, waitUntilReady } from '../helpers/regent-process.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/** `regent token --dev ...` as a user runs it, on `dataDir`; resolves with stdout. */
async function tokenCommand(dataDir: string, role: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/regent.ts', 'token', '--dev', '--sub', 'ada', '--role', role], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', REGENT_DATA_DIR: dataDir }, timeout: 60_000,
  });
  return stdout.trim();
}

describe('one Regent per data directory', () => {
  test('a second Regent on a data directory in use exits non-zero naming the directory and the holder pid, touching nothing, and the first keeps serving', async () => {
    const dataDir = tempDirForTest('regent-single-');
    const first = spawnRegentProcess(dataDir);
    const url = await listeningUrl(first);
    await waitUntilReady(url);
    const auditBefore = readFileSync(join(dataDir, 'audit', 'audit.jsonl'));

    const second = spawnRegentProcess(dataDir);
    const code = await exitOf(second);
    expect(code).not.toBe(0);
    expect(second.output()).toContain(`regent: the data directory ${dataDir} is in use by another Regent (pid ${first.child.pid}`);
    expect(second.output()).toContain('[data_dir_in_use]');
    expect(second.output()).not.toContain('regent listening');

    expect(readFileSync(join(dataDir, 'audit', 'audit.jsonl'))).toEqual(auditBefore);
    expect((await fetch(`${url}/status`)).status).toBe(200);
    expect((await fetch(`${url}/bundles/rbac`)).status).toBe(200);
    expect(first.child.exitCode).toBeNull();
  });

  test('after kill -9 of the first, the next Regent starts on the same data directory: no stale lock', async () => {
    const dataDir = tempDirForTest('regent-single-');
    const first = spawnRegentProcess(dataDir);
    await waitUntilReady(await listeningUrl(first));
    first.child.kill('SIGKILL');
    expect(await exitOf(first)).toBe('SIGKILL');

    const next = spawnRegentProcess(dataDir);
    const url = await listeningUrl(next);
    await waitUntilReady(url);
    expect((await fetch(`${url}/bundles/rbac`)).status).toBe(200);
  });

  test('regent token --dev is not blocked by a running Regent: it only reads the secret the server uses', async () => {
    const dataDir = tempDirForTest('regent-single-');
    // First use, no server yet: the command creates the secret; the server then reuses it.
    const before = await tokenCommand(dataDir, 'auditor');
    const secret = readFileSync(join(dataDir, 'keys', 'admin-token.secret'));
    const server = spawnRegentProcess(dataDir);
    const url = await listeningUrl(server);

    const during = await tokenCommand(dataDir, 'viewer');
    expect(readFileSync(join(dataDir, 'keys', 'admin-token.secret'))).toEqual(secret);
    for (const [token, role] of [[before, 'auditor'], [during, 'viewer']] as const) {
      const response = await fetch(`${url}/api/whoami`, { headers: { Authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ principal: { subject: 'ada', role } });
    }
  });
});
