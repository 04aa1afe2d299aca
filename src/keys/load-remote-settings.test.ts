import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, copyFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { loadRemoteSettings } from './load-remote-settings.js';

function settingsFor(remote: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  const dataDir = tempDirForTest('regent-remote-settings-');
  return { dataDir, load: () => loadRemoteSettings(loadConfig({ env, overrides: { dataDir, remote } }), dataDir) };
}

// A self-signed certificate and its key (test-only material, see testdata/README.md).
const TESTDATA = join(import.meta.dirname, '..', 'domain', 'bundles', 'testdata');

function testdataCopy(name: string, mode = 0o600): string {
  const file = join(tempDirForTest('regent-tls-'), name);
  copyFileSync(join(TESTDATA, name), file);
  chmodSync(file, mode);
  return file;
}

function otherKey(options: { encrypted?: boolean } = {}): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return secretFile(options.encrypted
    ? privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString()
    : privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
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

  test('a CA file goes to git with an empty CA directory beside it, so the system store is not consulted', () => {
    const caFile = testdataCopy('cert.pem', 0o644);
    const { load, dataDir } = settingsFor({ url: 'https://gitea.example.test/acme/policies.git', caFile });
    const settings = load()!;
    expect(settings.remote.tls).toEqual({ caFile, emptyCaDir: join(dataDir, 'remote-tls', 'empty-ca-dir') });
    expect(readdirSync(settings.remote.tls!.emptyCaDir!)).toEqual([]);
    expect(settings.insecureHttp).toBe(false);
  });

  test('the CA and client certificate files come from REGENT_REMOTE_CA_FILE and REGENT_REMOTE_CLIENT_{CERT,KEY}_FILE', () => {
    const caFile = testdataCopy('cert.pem', 0o644);
    const clientCertFile = testdataCopy('cert.pem', 0o644);
    const clientKeyFile = testdataCopy('cert-key.pem');
    const { load } = settingsFor({ url: 'https://gitea.example.test/acme/policies.git' }, {
      REGENT_REMOTE_CA_FILE: caFile, REGENT_REMOTE_CLIENT_CERT_FILE: clientCertFile, REGENT_REMOTE_CLIENT_KEY_FILE: clientKeyFile,
    });
    expect(load()!.remote.tls).toMatchObject({ caFile, clientCertFile, clientKeyFile });
  });

  test.each([
    ['localhost', 'http://localhost:3000/acme/p.git'],
    ['127.0.0.1', 'http://127.0.0.1:3000/acme/p.git'],
    ['another 127/8 address', 'http://127.4.5.6/acme/p.git'],
    ['::1', 'http://[::1]:3000/acme/p.git'],
  ])('lets an http remote through with allowInsecureHttp, and a token with it to a loopback host (%s)', (_name, url) => {
    const settings = settingsFor({ url, allowInsecureHttp: true, token: 'gitea-token' }).load()!;
    expect(settings.insecureHttp).toBe(true);
    expect(settings.remote).toMatchObject({ url, allowInsecureHttp: true, credentials: { kind: 'token' } });
  });

  test('sends a token over http to another host only with allowTokenOverInsecureHttp', () => {
    const settings = settingsFor({ url: 'http://gitea.lan/acme/p.git', allowInsecureHttp: true, allowTokenOverInsecureHttp: true, token: 't' }).load()!;
    expect(settings.remote.credentials).toMatchObject({ kind: 'token' });
    expect(settingsFor({ url: 'http://gitea.lan/acme/p.git', allowInsecureHttp: true }).load()!.insecureHttp).toBe(true);
  });

  test.each([
    ['REGENT_REMOTE_ALLOW_INSECURE_HTTP', 'remote.allowInsecureHttp'],
    ['REGENT_REMOTE_ALLOW_TOKEN_OVER_INSECURE_HTTP', 'remote.allowTokenOverInsecureHttp'],
  ])('refuses %s: the insecure-http switches are set in the config file only', (variable, field) => {
    expect(() => loadConfig({ env: { [variable]: 'true' } })).toThrow(expect.objectContaining({ code: 'invalid_config', details: expect.objectContaining({ field }) }));
  });

  test.each([
    ['a password in the URL', { url: 'https://bot:hunter2@github.com/acme/p.git' }, 'invalid_remote_url', 'remote.url'],
    ['a token over ssh', { url: 'git@github.com:acme/p.git', token: 'ghs_x' }, 'invalid_config', 'remote.token'],
    ['a token and an SSH key', { url: 'https://github.com/acme/p.git', token: 'ghs_x', sshKey: 'k' }, 'invalid_config', 'remote.token'],
    ['a bad cron expression', { url: '/srv/p.git', syncSchedule: 'every minute' }, 'invalid_config', 'remote.syncSchedule'],
    ['a group-readable token file', { url: 'https://github.com/acme/p.git', tokenFile: () => secretFile('t', 0o640) }, 'insecure_key_file', 'remote.tokenFile'],
    ['a backoff cap below its start', { url: '/srv/p.git', backoffInitialMs: 5000, backoffMaxMs: 1000 }, 'invalid_config', 'remote.backoffMaxMs'],
    ['an http remote without allowInsecureHttp', { url: 'http://127.0.0.1:3000/acme/p.git' }, 'invalid_remote_url', 'remote.url'],
    ['a token over http to a host that is not loopback', { url: 'http://gitea.lan/acme/p.git', allowInsecureHttp: true, token: 't' }, 'insecure_remote_token', 'remote.allowTokenOverInsecureHttp'],
    ['a token over http to a name that only starts like loopback', { url: 'http://127.0.0.1.example.com/p.git', allowInsecureHttp: true, token: 't' }, 'insecure_remote_token', 'remote.allowTokenOverInsecureHttp'],
    ['allowTokenOverInsecureHttp without allowInsecureHttp', { url: 'https://gitea.lan/p.git', allowTokenOverInsecureHttp: true }, 'invalid_config', 'remote.allowTokenOverInsecureHttp'],
    ['a CA file that does not exist', { url: 'https://gitea.lan/p.git', caFile: '/nonexistent/ca.pem' }, 'invalid_remote_tls', 'remote.caFile'],
    ['a CA file that is a directory', { url: 'https://gitea.lan/p.git', caFile: () => tempDirForTest() }, 'invalid_remote_tls', 'remote.caFile'],
    ['a CA file without a PEM certificate', { url: 'https://gitea.lan/p.git', caFile: () => secretFile('not a certificate\n', 0o644) }, 'invalid_remote_tls', 'remote.caFile'],
    ['a CA file whose certificate does not parse', { url: 'https://gitea.lan/p.git', caFile: () => secretFile('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 0o644) }, 'invalid_remote_tls', 'remote.caFile'],
    ['a CA file for an ssh remote', { url: 'git@gitea.lan:acme/p.git', caFile: () => testdataCopy('cert.pem') }, 'invalid_remote_tls', 'remote.caFile'],
    ['a client certificate without its key', { url: 'https://gitea.lan/p.git', clientCertFile: () => testdataCopy('cert.pem') }, 'invalid_remote_tls', 'remote.clientKeyFile'],
    ['a client key without its certificate', { url: 'https://gitea.lan/p.git', clientKeyFile: () => testdataCopy('cert-key.pem') }, 'invalid_remote_tls', 'remote.clientCertFile'],
    ['a group-readable client key', { url: 'https://gitea.lan/p.git', clientCertFile: () => testdataCopy('cert.pem'), clientKeyFile: () => testdataCopy('cert-key.pem', 0o640) }, 'insecure_key_file', 'remote.clientKeyFile'],
    ['a client key that is not the certificate\'s', { url: 'https://gitea.lan/p.git', clientCertFile: () => testdataCopy('cert.pem'), clientKeyFile: () => otherKey() }, 'invalid_remote_tls', 'remote.clientKeyFile'],
    ['an encrypted client key', { url: 'https://gitea.lan/p.git', clientCertFile: () => testdataCopy('cert.pem'), clientKeyFile: () => otherKey({ encrypted: true }) }, 'invalid_remote_tls', 'remote.clientKeyFile'],
    ['a client key file holding a certificate', { url: 'https://gitea.lan/p.git', clientCertFile: () => testdataCopy('cert.pem'), clientKeyFile: () => testdataCopy('cert.pem') }, 'invalid_remote_tls', 'remote.clientKeyFile'],
  ])('refuses %s, naming the key', (_name, remote, code, field) => {
    const { load } = settingsFor(Object.fromEntries(Object.entries(remote).map(([key, value]) => [key, typeof value === 'function' ? value() : value])));
    expect(load).toThrow(expect.objectContaining({ code, details: expect.objectContaining({ field }) }));
  });
});
