import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { generateSigningKey, publicKeyPem, type SigningAlgorithm } from '../domain/bundles/signing-key.js';
import { InputError } from '../domain/errors.js';
import { removeInterruptedWrites } from '../storage/startup-cleanup.js';
import { loadAdminTokenKey } from './load-admin-token-key.js';
import { loadSigningKey } from './load-signing-key.js';

function devKey(dataDir: string, algorithm: SigningAlgorithm = 'RS256') {
  const logger = silentLogger();
  return { loaded: loadSigningKey({ keyId: 'regent', algorithm }, { dataDir, dev: true, logger }), logger };
}

function refusal(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

const deadPid = () => spawnSync('true').pid!;

describe('development signing key', () => {
  test('is generated once as a whole pair and reused, never replaced', () => {
    const dataDir = tempDirForTest();
    const first = devKey(dataDir).loaded;
    expect(first.source).toBe('generated');
    const privatePem = readFileSync(join(dataDir, 'keys', 'regent.pem'));
    expect(readFileSync(join(dataDir, 'keys', 'regent.pub.pem'), 'utf8')).toBe(publicKeyPem(first.key));
    expect(statSync(join(dataDir, 'keys', 'regent.pem')).mode & 0o777).toBe(0o600);
    const again = devKey(dataDir).loaded;
    expect(again.source).toBe('dev-key-file');
    expect(readFileSync(join(dataDir, 'keys', 'regent.pem'))).toEqual(privatePem);
    expect(readdirSync(join(dataDir, 'keys')).sort()).toEqual(['regent.pem', 'regent.pub.pem']);
  });

  test('a missing private key with its public key present is an error naming both files, and nothing is generated', () => {
    const dataDir = tempDirForTest();
    devKey(dataDir);
    const publicPem = readFileSync(join(dataDir, 'keys', 'regent.pub.pem'));
    rmSync(join(dataDir, 'keys', 'regent.pem'));
    const error = refusal(() => devKey(dataDir));
    expect(error.code).toBe('signing_key_missing');
    expect(error.message).toContain(join(dataDir, 'keys', 'regent.pem'));
    expect(error.message).toContain(join(dataDir, 'keys', 'regent.pub.pem'));
    expect(error.details).toMatchObject({ file: join(dataDir, 'keys', 'regent.pem'), publicKeyFile: join(dataDir, 'keys', 'regent.pub.pem') });
    expect(existsSync(join(dataDir, 'keys', 'regent.pem'))).toBe(false);
    expect(readFileSync(join(dataDir, 'keys', 'regent.pub.pem'))).toEqual(publicPem);
  });

  test('a public key that is not the private key\'s is an error naming both files', () => {
    const dataDir = tempDirForTest();
    devKey(dataDir);
    writeFileSync(join(dataDir, 'keys', 'regent.pub.pem'), generateSigningKey('regent', 'RS256').publicKeyPem);
    const error = refusal(() => devKey(dataDir));
    expect(error.code).toBe('signing_key_mismatch');
    expect(error.message).toContain(join(dataDir, 'keys', 'regent.pem'));
    expect(error.message).toContain(join(dataDir, 'keys', 'regent.pub.pem'));
  });

  test.each(['RS256', 'ES256', 'HS256'] as const)('%s: a private key whose public key was never written (crash between the two) gets it written again from the private key', (algorithm) => {
    const dataDir = tempDirForTest();
    const { loaded } = devKey(dataDir, algorithm);
    rmSync(join(dataDir, 'keys', 'regent.pub.pem'));
    const { loaded: healed, logger } = devKey(dataDir, algorithm);
    expect(healed.source).toBe('dev-key-file');
    expect(readFileSync(join(dataDir, 'keys', 'regent.pub.pem'), 'utf8')).toBe(publicKeyPem(loaded.key));
    expect(logger.entries.map((entry) => entry.message)).toContain('development mode: the public key was missing (start-up stopped while generating the pair); written again from the private key');
  });

  test('the temp files of a generation interrupted before either key was in place are removed at start-up, and a whole pair is generated', async () => {
    const dataDir = tempDirForTest();
    const keys = join(dataDir, 'keys');
    mkdirSync(keys, { recursive: true });
    const pid = deadPid();
    // What a crash after writing (part of) both temp files and before linking either leaves.
    const leftovers = [`regent.pem.${pid}.${randomUUID()}.tmp`, `regent.pub.pem.${pid}.${randomUUID()}.tmp`, `admin-token.secret.${pid}.${randomUUID()}.tmp`];
    writeFileSync(join(keys, leftovers[0]!), '-----BEGIN PRIVATE KEY-----\nMIIEv');
    writeFileSync(join(keys, leftovers[1]!), '');
    writeFileSync(join(keys, leftovers[2]!), 'abc');

    const removed = await removeInterruptedWrites(dataDir, { logger: silentLogger() });
    expect(removed.sort()).toEqual(leftovers.map((name) => join('keys', name)).sort());
    const { loaded } = devKey(dataDir);
    expect(loaded.source).toBe('generated');
    loadAdminTokenKey({ algorithms: ['HS256'] }, { dataDir, dev: true, logger: silentLogger() });
    expect(readdirSync(keys).sort()).toEqual(['admin-token.secret', 'regent.pem', 'regent.pub.pem']);
    expect(readFileSync(join(keys, 'regent.pub.pem'), 'utf8')).toBe(publicKeyPem(loaded.key));
  });

  test('an unreadable private key is an error naming the file, never a new key', () => {
    const dataDir = tempDirForTest();
    devKey(dataDir);
    writeFileSync(join(dataDir, 'keys', 'regent.pem'), '-----BEGIN PRIVATE KEY-----\ntorn');
    const error = refusal(() => devKey(dataDir));
    expect(error.code).toBe('invalid_signing_key');
    expect(error.message).toContain(join(dataDir, 'keys', 'regent.pem'));
  });
});
