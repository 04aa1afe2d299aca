import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { generateSigningKey, publicKeyPem, signingKeyFromPem, type SigningAlgorithm, type SigningKey } from '../domain/bundles/signing-key.js';
import { createFileOnceSync } from '../storage/atomic-file.js';

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
  return loadDevSigningKey(keyId, algorithm, options);
}

/**
 * Development mode's key pair in `<dataDir>/keys/`: `<keyId>.pem` (private) and `<keyId>.pub.pem` (what
 * agents are given). Never silently replaced: agents trust the public key, so a public key without its
 * private key is an error naming both files, and a public key that does not belong to the private key is
 * one too. A new pair is generated only when neither file exists, each file created atomically and
 * never over an existing one (temp file, fsync, link), the private key first: a crash between the two
 * leaves a private key alone, and the next start writes its public key again (derived from it), so a
 * half-generated pair heals instead of stopping start-up. Temp files of an interrupted generation are
 * removed by the start-up clean-up.
 */
function loadDevSigningKey(keyId: string, algorithm: SigningAlgorithm, options: { dataDir: string; logger: Logger }): LoadedSigningKey {
  const dir = join(options.dataDir, 'keys');
  const privatePath = join(dir, `${keyId}.pem`);
  const publicPath = join(dir, `${keyId}.pub.pem`);
  const publicMode = algorithm.startsWith('HS') ? 0o600 : 0o644;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(privatePath)) {
    if (existsSync(publicPath)) {
      throw new InputError('signing_key_missing', `development mode: the private signing key ${privatePath} is missing, but its public key ${publicPath} is there. Agents trust that public key, so Regent does not replace the pair: restore ${privatePath}, or delete ${publicPath} as well to generate a new pair (and give the agents the new public key)`, { field: 'signing.privateKeyFile', file: privatePath, publicKeyFile: publicPath });
    }
    const generated = generateSigningKey(keyId, algorithm);
    if (createFileOnceSync(privatePath, generated.privateKeyPem, 0o600)) {
      createFileOnceSync(publicPath, generated.publicKeyPem, publicMode);
      options.logger.warn({ keyId, algorithm, privateKeyFile: privatePath, publicKeyFile: publicPath }, 'development mode: generated a bundle signing key; do not use it in production');
      return { key: generated.key, publicKeyFile: publicPath, source: 'generated' };
    }
  }
  const key = readDevKey(keyId, algorithm, privatePath);
  const expected = publicKeyPem(key);
  if (createFileOnceSync(publicPath, expected, publicMode)) {
    options.logger.warn({ keyId, privateKeyFile: privatePath, publicKeyFile: publicPath }, 'development mode: the public key was missing (start-up stopped while generating the pair); written again from the private key');
  } else if (!samePublicKey(readFileSync(publicPath), expected, algorithm)) {
    throw new InputError('signing_key_mismatch', `development mode: ${publicPath} is not the public key of ${privatePath}; agents configured with it would refuse every bundle. Restore the matching pair, or delete both files to generate a new one`, { field: 'signing.privateKeyFile', file: privatePath, publicKeyFile: publicPath });
  }
  return { key, publicKeyFile: publicPath, source: 'dev-key-file' };
}

function readDevKey(keyId: string, algorithm: SigningAlgorithm, path: string): SigningKey {
  try {
    return signingKeyFromPem(keyId, algorithm, readFileSync(path));
  } catch (error) {
    if (error instanceof InputError) throw new InputError(error.code, `development mode signing key ${path}: ${error.message}`, { ...error.details, file: path }, { cause: error });
    throw error;
  }
}

/** Does the public key file hold `expected` (compared as keys, not as text; for HS, the secret)? */
function samePublicKey(file: Buffer, expected: string, algorithm: SigningAlgorithm): boolean {
  try {
    if (algorithm.startsWith('HS')) return file.toString('utf8').trimEnd() === expected.trimEnd();
    const der = (pem: string | Buffer) => createPublicKey({ key: pem, format: 'pem' }).export({ type: 'spki', format: 'der' });
    return der(file).equals(der(expected));
  } catch {
    return false;
  }
}

function statOrFail(path: string): { mode: number } {
  try {
    return statSync(path);
  } catch (error) {
    throw new InputError('signing_key_missing', `signing key file '${path}' cannot be read`, { field: 'signing.privateKeyFile' }, { cause: error });
  }
}
