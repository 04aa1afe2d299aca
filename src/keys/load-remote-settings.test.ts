import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { loadRemoteSettings } from './load-remote-settings.js';

function settingsFor(remote: Record<string, unknown>) {
  const dataDir = tempDirForTest('regent-remote-settings-');
  return { dataDir, load: () => loadRemoteSettings(loadConfig({ env: {}, overrides: { dataDir, remote } }), dataDir) };
}

function secretFile(content: string, mode = 0o600): string {
  const file = join(tempDirForTest('regent-secret-'), 'secret');
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

describe('loadRemoteSettings', () => {
  test('is undefined in local mode (no remote.url)', () => {
    expect(settingsFor({}).load()).toBeUndefined();
  });

  test('reads a token file (trailing newline dropped) and the webhook secret file', () => {
    const { load } = settingsFor({ url: 'https://github.com/acme/policies.git', tokenFile: secretFile('ghs_token\n'), webhookSecretFile: secretFile('0123456789abcdef0123\n') });
    expect(load()).toMatchObject({
      remote: { url: 'https://github.com/acme/policies.git', credentials: { kind: 'token', token: 'ghs_token', username: 'x-access-token' } },
      webhookSecret: '0123456789abcdef0123',
      syncSchedule: '*/30 * * * * *',
    });
  });

  test('writes an inline SSH key to a 0600 file in the data directory', () => {
    const { load, dataDir } = settingsFor({ url: 'git@github.com:acme/policies.git', sshKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----' });
    const settings = load()!;
    expect(settings.remote.credentials).toMatchObject({ kind: 'ssh', keyFile: join(dataDir, 'keys', 'remote-ssh-key'), strictHostKeyChecking: 'yes' });
    expect(statSync(join(dataDir, 'keys', 'remote-ssh-key')).mode & 0o777).toBe(0o600);
  });

  test.each([
    ['a password in the URL', { url: 'https://bot:hunter2@github.com/acme/p.git' }, 'invalid_remote_url', 'remote.url'],
    ['a token over ssh', { url: 'git@github.com:acme/p.git', token: 'ghs_x' }, 'invalid_config', 'remote.token'],
    ['a token and an SSH key', { url: 'https://github.com/acme/p.git', token: 'ghs_x', sshKey: 'k' }, 'invalid_config', 'remote.token'],
    ['a bad cron expression', { url: '/srv/p.git', syncSchedule: 'every minute' }, 'invalid_config', 'remote.syncSchedule'],
    ['a group-readable token file', { url: 'https://github.com/acme/p.git', tokenFile: () => secretFile('t', 0o640) }, 'insecure_key_file', 'remote.tokenFile'],
    ['a backoff cap below its start', { url: '/srv/p.git', backoffInitialMs: 5000, backoffMaxMs: 1000 }, 'invalid_config', 'remote.backoffMaxMs'],
  ])('refuses %s, naming the key', (_name, remote, code, field) => {
    const { load } = settingsFor(Object.fromEntries(Object.entries(remote).map(([key, value]) => [key, typeof value === 'function' ? value() : value])));
    expect(load).toThrow(expect.objectContaining({ code, details: expect.objectContaining({ field }) }));
  });
});
