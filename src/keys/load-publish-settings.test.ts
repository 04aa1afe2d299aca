import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { loadConfig } from '../config/load-config.js';
import { loadPublishSettings } from './load-publish-settings.js';

function secretFile(content: string, mode = 0o600): string {
  const file = join(tempDirForTest('regent-secret-'), 'secret');
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

const load = (publish: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => loadPublishSettings(loadConfig({ env: {}, overrides: { publish } }), env);
const s3 = (sink: Record<string, unknown>) => ({ s3: [{ name: 'bucket', bucket: 'bundles', ...sink }] });
const oci = (sink: Record<string, unknown>) => ({ oci: [{ name: 'registry', registry: 'ghcr.io', repository: 'acme/policies', ...sink }] });
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI' };

describe('loadPublishSettings', () => {
  test('nothing configured: no sinks, the default backoff and timeout', () => {
    expect(load({})).toEqual({ s3: [], oci: [], retry: { initialMs: 1000, maxMs: 60_000 }, timeoutMs: 120_000 });
  });

  test('an S3 sink takes AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, and drops the slashes around the prefix', () => {
    const [sink] = load(s3({ endpoint: 'https://s3.example.com', region: 'eu-west-1', prefix: '/regent/bundles/', forcePathStyle: true }), { ...AWS_ENV, AWS_SESSION_TOKEN: 'token' }).s3;
    expect(sink).toEqual({
      name: 'bucket', endpoint: 'https://s3.example.com', region: 'eu-west-1', bucket: 'bundles', prefix: 'regent/bundles', forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI', sessionToken: 'token' }, timeoutMs: 120_000,
    });
  });

  test('an S3 credentials file (AWS shared-credentials format) is read for its profile, and must be 0600', () => {
    const file = secretFile('[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n[profile publisher]\n# the one Regent uses\naws_access_key_id=AKIDPUB\naws_secret_access_key = pub-secret\naws_session_token = pub-token\n');
    expect(load(s3({ credentialsFile: file })).s3[0]!.credentials).toEqual({ accessKeyId: 'AKIDDEFAULT', secretAccessKey: 'default-secret' });
    expect(load(s3({ credentialsFile: file, profile: 'publisher' })).s3[0]!.credentials).toEqual({ accessKeyId: 'AKIDPUB', secretAccessKey: 'pub-secret', sessionToken: 'pub-token' });
    expect(() => load(s3({ credentialsFile: file, profile: 'missing' }))).toThrow(expect.objectContaining({ code: 'invalid_config', details: { field: 'publish.s3.0.credentialsFile' } }));
    chmodSync(file, 0o644);
    expect(() => load(s3({ credentialsFile: file }))).toThrow(expect.objectContaining({ code: 'insecure_key_file', details: { field: 'publish.s3.0.credentialsFile' } }));
  });

  test('an S3 sink without credentials stops start-up naming the key, unless the SDK is asked to find them', () => {
    expect(() => load(s3({}))).toThrow(expect.objectContaining({ code: 'invalid_config', message: expect.stringMatching(/AWS_ACCESS_KEY_ID/) }));
    expect(load(s3({ sdkCredentialChain: true })).s3[0]!.credentials).toBeUndefined();
    expect(() => load(s3({ sdkCredentialChain: true, credentialsFile: secretFile('[default]\n') }))).toThrow(expect.objectContaining({ details: { field: 'publish.s3.0.sdkCredentialChain' } }));
  });

  test.each([
    ['http://127.0.0.1:7070', true],
    ['http://localhost:7070', true],
    ['http://[::1]:7070', true],
    ['http://s3.internal:7070', false],
  ])('plain http to %s is allowed without allowInsecureHttp: %s', (endpoint, allowed) => {
    const attempt = () => load(s3({ endpoint }), AWS_ENV);
    if (allowed) expect(attempt()).toBeDefined();
    else expect(attempt).toThrow(expect.objectContaining({ code: 'invalid_config', details: { field: 'publish.s3.0.endpoint' } }));
    expect(load(s3({ endpoint, allowInsecureHttp: true }), AWS_ENV).s3[0]!.endpoint).toBe(endpoint);
  });

  test('an S3 endpoint with credentials in it is refused without repeating them', () => {
    const attempt = () => load(s3({ endpoint: 'https://AKID:topsecret@s3.example.com' }), AWS_ENV);
    expect(attempt).toThrow(expect.objectContaining({ code: 'invalid_config', details: { field: 'publish.s3.0.endpoint' } }));
    expect(attempt).not.toThrow(/topsecret/);
  });

  test('an insecure (http) registry must be on this machine unless allowInsecureHttp is set', () => {
    expect(load(oci({ registry: '127.0.0.1:5000', insecure: true })).oci[0]).toEqual({ name: 'registry', registry: '127.0.0.1:5000', repository: 'acme/policies', insecure: true });
    expect(load(oci({ registry: '[::1]:5000', insecure: true })).oci[0]!.insecure).toBe(true);
    expect(() => load(oci({ registry: 'registry.internal:5000', insecure: true }))).toThrow(expect.objectContaining({ details: { field: 'publish.oci.0.insecure' } }));
    expect(load(oci({ registry: 'registry.internal:5000', insecure: true, allowInsecureHttp: true })).oci[0]!.insecure).toBe(true);
  });

  test('OCI credentials are a username and a 0600 password file, both or neither', () => {
    expect(load(oci({ username: 'bot', passwordFile: secretFile('s3cret\n') })).oci[0]!.credentials).toEqual({ username: 'bot', password: 's3cret' });
    expect(() => load(oci({ username: 'bot' }))).toThrow(expect.objectContaining({ details: { field: 'publish.oci.0.passwordFile' } }));
    expect(() => load(oci({ username: 'bot', passwordFile: secretFile('s3cret', 0o640) }))).toThrow(expect.objectContaining({ code: 'insecure_key_file' }));
  });

  test.each([
    [{ s3: [{ name: 'x', bucket: 'b'.repeat(2) }] }, 'publish.s3.0.bucket'],
    [{ s3: [{ name: 'Bad', bucket: 'bundles' }] }, 'publish.s3.0.name'],
    [{ s3: [{ name: 'x', bucket: 'bundles', prefix: 'a//b' }] }, 'publish.s3.0.prefix'],
    [{ oci: [{ name: 'x', registry: 'ghcr.io', repository: 'Acme/Policies' }] }, 'publish.oci.0.repository'],
    [{ oci: [{ name: 'x', registry: 'https://ghcr.io', repository: 'acme' }] }, 'publish.oci.0.registry'],
    [{ s3: [{ name: 'x', bucket: 'bundles' }], oci: [{ name: 'x', registry: 'ghcr.io', repository: 'acme' }] }, 'publish.oci.0.name'],
    [{ retryInitialMs: 5000, retryMaxMs: 1000 }, 'publish.retryMaxMs'],
  ])('a bad publish config stops start-up naming the key (%j)', (publish, field) => {
    expect(() => load(publish, AWS_ENV)).toThrow(expect.objectContaining({ code: 'invalid_config', details: expect.objectContaining({ field }) }));
  });

  test('the README\'s publish example is valid configuration, and loads once its files exist', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).find((yaml) => yaml.startsWith('publish:'));
    expect(block).toBeDefined();
    const { publish } = parse(block!) as { publish: { s3: Array<Record<string, unknown>>; oci: Array<Record<string, unknown>> } };
    publish.s3[0]!.credentialsFile = secretFile('[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n');
    publish.oci[0]!.passwordFile = secretFile('ghp_token');
    const settings = load(publish, AWS_ENV);
    expect(settings.s3.map((sink) => [sink.name, sink.bucket, sink.prefix, sink.credentials?.accessKeyId])).toEqual([['aws', 'policy-bundles', 'regent', 'AKIDEXAMPLE'], ['minio', 'policy-bundles', '', 'AKIDEXAMPLE']]);
    expect(settings.oci[0]).toMatchObject({ name: 'ghcr', registry: 'ghcr.io', repository: 'acme/regent', insecure: false, credentials: { username: 'regent-bot', password: 'ghp_token' } });
    expect(settings).toMatchObject({ retry: { initialMs: 1000, maxMs: 60_000 }, timeoutMs: 120_000 });
  });
});
