import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { loadSigningKey } from '../../src/keys/load-signing-key.js';
import { adminClient } from '../helpers/admin-client.js';
import { silentLogger } from '../helpers/git-repo.js';
import { exitOf, spawnRegentProcess } from '../helpers/regent-process.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/** A live process that is not the Regent under test (it runs in this process). */
function livePid(): number {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  return child.pid!;
}

/** A pid no process has: one that just exited. */
function deadPid(): number {
  const child = spawnSync('true');
  return child.pid!;
}

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

function plant(path: string, content = 'partial', mtime?: Date): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  if (mtime) utimesSync(path, mtime, mtime);
  return path;
}

describe('start-up clean-up of interrupted writes', () => {
  test("removes Regent's temp files and git's old temps and stale ref locks, keeps what a live writer or a running push may still be writing, and serves writes again", async () => {
    const first = await startTestRegent({ keepRunning: true });
    const { dataDir } = first;
    onTestFinished(() => first.close());
    await first.close();

    const dead = deadPid();
    const stale = [
      plant(join(dataDir, 'state', `activation.json.${dead}.${randomUUID()}.tmp`)),
      plant(join(dataDir, 'change-requests', `1.json.${dead}.${randomUUID()}.tmp`)),
      plant(join(dataDir, 'keys', `admin-token.secret.${dead}.${randomUUID()}.tmp`)),
      plant(join(dataDir, 'opa', 'capabilities.json.tmp')),
      plant(join(dataDir, 'tmp', 'regent-opa-AbC123', 'policy.tar.gz')),
      plant(join(dataDir, 'store.git', 'objects', 'ab', 'tmp_obj_Xy12Zq'), 'x', minutesAgo(10)),
      plant(join(dataDir, 'store.git', 'objects', 'pack', 'tmp_pack_Qw34Er'), 'x', minutesAgo(10)),
      // A ref lock left by a killed git: every later update of main would fail with "File exists".
      plant(join(dataDir, 'store.git', 'refs', 'heads', 'main.lock'), 'x', minutesAgo(10)),
    ];
    const kept = [
      // A temp file of a live process that is not the Regent: `regent token --dev` creating the secret.
      plant(join(dataDir, 'keys', `admin-token.secret.${livePid()}.${randomUUID()}.tmp`)),
      // Git temps and locks of a push that may be running right now.
      plant(join(dataDir, 'store.git', 'objects', 'cd', 'tmp_obj_Fresh1')),
      plant(join(dataDir, 'store.git', 'refs', 'heads', 'feature.lock')),
    ];

    const regent = await startTestRegent({ dataDir });
    for (const path of stale) expect(existsSync(path), path).toBe(false);
    for (const path of kept) expect(existsSync(path), path).toBe(true);
    expect(readdirSync(join(dataDir, 'tmp')).filter((name) => name.startsWith('regent-opa-'))).toEqual([]);

    const admin = adminClient(regent, { sub: 'ada', role: 'admin', name: 'Ada', email: 'ada@example.test' });
    const head = ((await (await admin.get('/api/versions/head')).json()) as { revision: string }).revision;
    const write = await admin.put('/api/policies/rbac/after_cleanup.rego', { content: 'package rbac.after_cleanup\n\nok := true\n', message: 'After the clean-up', baseRevision: head });
    expect(write.status).toBe(201);
  });
});

/** A full file system for a data directory: a 1 MiB tmpfs filled up (as root), else a lock file on /dev/full. */
function fullDataDir(): { dataDir: string; kind: 'tmpfs' | '/dev/full' } {
  const mountPoint = tempDirForTest('regent-full-');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]).status === 0;
  if (mounted) {
    onTestFinished(() => {
      spawnSync('umount', [mountPoint]);
    });
    spawnSync('dd', ['if=/dev/zero', `of=${join(mountPoint, 'filler')}`, 'bs=64k']);
    return { dataDir: mountPoint, kind: 'tmpfs' };
  }
  // Not allowed to mount: the kernel's /dev/full answers every write with ENOSPC.
  symlinkSync('/dev/full', join(mountPoint, 'regent.lock'));
  return { dataDir: mountPoint, kind: '/dev/full' };
}

describe('a full disk at start-up', () => {
  test('is one clear error naming the data directory, exit code 1, no stack trace', async () => {
    const { dataDir } = fullDataDir();
    const regent = spawnRegentProcess(dataDir);
    expect(await exitOf(regent)).toBe(1);
    const output = regent.output();
    expect(output).toContain(`regent: no space left on the device of the data directory ${dataDir}`);
    expect(output).toContain('[data_dir_full]');
    expect(output).toContain('"code":"data_dir_full"');
    expect(output).not.toMatch(/\n\s+at /);
    expect(output).not.toContain('"stack"');
  });
});

describe('development signing keys at start-up', () => {
  test('a deleted private key with its public key kept stops start-up naming both files; nothing is replaced', async () => {
    const dataDir = tempDirForTest('regent-keys-');
    loadSigningKey({ keyId: 'regent', algorithm: 'RS256' }, { dataDir, dev: true, logger: silentLogger() });
    const privateFile = join(dataDir, 'keys', 'regent.pem');
    const publicFile = join(dataDir, 'keys', 'regent.pub.pem');
    const publicPem = readFileSync(publicFile);
    rmSync(privateFile);

    const regent = spawnRegentProcess(dataDir);
    expect(await exitOf(regent)).toBe(1);
    expect(regent.output()).toContain('[signing_key_missing]');
    expect(regent.output()).toContain(`the private signing key ${privateFile} is missing, but its public key ${publicFile} is there`);
    expect(existsSync(privateFile)).toBe(false);
    expect(readFileSync(publicFile)).toEqual(publicPem);
  });
});
