import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { generateSigningKey, signingKeyFromPem, type SigningAlgorithm, type SigningKey } from '../domain/bundles/signing-key.js';

export interface SigningKeySettings {
  keyId: string;
  algorithm: SigningAlgorithm;
  privateKeyFile?: string;
  privateKey?: string;
}

export interface LoadedSigningKey {
  key: SigningKey;
  /** Where the matching public key (for agents' `keys:` config) was written, in dev mode. */
  publicKeyFile?: string;
  source: 'file' | 'environment' | 'generated' | 'dev-key-file';
}

/**
 * Finds the bundle signing key: a file (refused when group- or world-readable), the environment, or,
 * only in explicit development mode, a key pair generated once into `<dataDir>/keys/` and reused on
 * later starts. Without any of these Regent refuses to start. Key material is never logged.
 */
export function loadSigningKey(settings: SigningKeySettings, options: { dataDir: string; dev: boolean; logger: Logger }): LoadedSigningKey {
  const { keyId, algorithm } = settings;
  if (settings.privateKeyFile) {
    const mode = statOrFail(settings.privateKeyFile).mode;
    if ((mode & 0o077) !== 0) {
      throw new InputError('insecure_key_file', `signing key file '${settings.privateKeyFile}' is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`, { field: 'signing.privateKeyFile' });
    }
    return { key: signingKeyFromPem(keyId, algorithm, readFileSync(settings.privateKeyFile)), source: 'file' };
  }
  if (settings.privateKey) {
    return { key: signingKeyFromPem(keyId, algorithm, settings.privateKey), source: 'environment' };
  }
  if (!options.dev) {
    throw new InputError('signing_key_missing', 'no bundle signing key: set REGENT_SIGNING_KEY_FILE (or signing.privateKeyFile), or start in development mode (--dev) to generate one', { field: 'signing.privateKeyFile' });
  }
  const dir = join(options.dataDir, 'keys');
  const privatePath = join(dir, `${keyId}.pem`);
  const publicPath = join(dir, `${keyId}.pub.pem`);
  if (existsSync(privatePath)) {
    return { key: signingKeyFromPem(keyId, algorithm, readFileSync(privatePath)), publicKeyFile: publicPath, source: 'dev-key-file' };
  }
  const generated = generateSigningKey(keyId, algorithm);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(privatePath, generated.privateKeyPem, { mode: 0o600, flag: 'wx' });
  writeFileSync(publicPath, generated.publicKeyPem, { mode: algorithm.startsWith('HS') ? 0o600 : 0o644, flag: 'wx' });
  options.logger.warn({ keyId, algorithm, privateKeyFile: privatePath, publicKeyFile: publicPath }, 'development mode: generated a bundle signing key; do not use it in production');
  return { key: generated.key, publicKeyFile: publicPath, source: 'generated' };
}

function statOrFail(path: string): { mode: number } {
  try {
    return statSync(path);
  } catch (error) {
    throw new InputError('signing_key_missing', `signing key file '${path}' cannot be read`, { field: 'signing.privateKeyFile' }, { cause: error });
  }
}
