import { createPrivateKey, createPublicKey, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RegentConfig } from '../config/schema.js';
import { algorithmFamily } from '../domain/auth/admin-token-verifier.js';
import { publicKeyPem, type SigningKey } from '../domain/bundles/signing-key.js';
import { InputError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { createFileOnceSync } from '../storage/atomic-file.js';

export type AdminTokenKeySettings = Pick<RegentConfig['auth'], 'algorithms' | 'secret' | 'secretFile' | 'publicKeyFile'>;

export interface LoadAdminTokenKeyOptions {
  dataDir: string;
  dev: boolean;
  logger: Logger;
  /** The bundle signing key: the admin key must differ from it (a bundle signature is public). */
  signingKey?: SigningKey;
}

export interface LoadedAdminTokenKey {
  /** The HMAC secret (`secret`) or the public key tokens are verified with (`public`). */
  key: KeyObject;
  source: 'environment' | 'secret-file' | 'public-key-file' | 'dev-secret-file' | 'generated';
  /** The file the key came from, when it came from one. */
  file?: string;
}

const MIN_SECRET_BYTES = 32;
const MIN_RSA_BITS = 2048;
const CURVES: Readonly<Record<string, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

/** Where development mode keeps the generated admin token secret. */
export function devAdminSecretPath(dataDir: string): string {
  return join(dataDir, 'keys', 'admin-token.secret');
}

/**
 * Finds the key admin tokens are verified with, from `auth`: for HS* the secret (`auth.secret`, or
 * `auth.secretFile`, which must not be group- or world-readable; trailing line breaks are dropped; at
 * least 32 bytes), for RS/PS/ES a PEM public key of the matching type (`auth.publicKeyFile`). Only in
 * development mode, with nothing configured, a random secret is generated once into
 * `<dataDir>/keys/admin-token.secret` and reused later. Refuses a key equal to the bundle signing key.
 * Errors are `InputError`s (`invalid_config`, `auth_key_missing`, `insecure_key_file`,
 * `invalid_auth_key`) naming the `auth.*` field; key material is never logged or quoted.
 */
export function loadAdminTokenKey(settings: AdminTokenKeySettings, options: LoadAdminTokenKeyOptions): LoadedAdminTokenKey {
  let family: ReturnType<typeof algorithmFamily>;
  try {
    family = algorithmFamily(settings.algorithms);
  } catch {
    throw new InputError('invalid_config', `invalid configuration at 'auth.algorithms': use one family (HS*, or RS*/PS*, or ES*), not ${settings.algorithms.join(', ')}`, { field: 'auth.algorithms' });
  }
  const loaded = family === 'hmac' ? loadSecret(settings, options) : loadPublicKey(settings);
  if (options.signingKey) assertSeparate(loaded.key, options.signingKey);
  return loaded;
}

function loadSecret(settings: AdminTokenKeySettings, options: LoadAdminTokenKeyOptions): LoadedAdminTokenKey {
  if (settings.publicKeyFile) throw configError('auth.publicKeyFile', `auth.publicKeyFile is for RS/PS/ES tokens; ${settings.algorithms.join(', ')} needs auth.secret or auth.secretFile`);
  if (settings.secret && settings.secretFile) throw configError('auth.secret', 'set auth.secret or auth.secretFile, not both');
  if (settings.secret) return { key: secretKey(Buffer.from(settings.secret, 'utf8'), 'auth.secret'), source: 'environment' };
  if (settings.secretFile) return { key: secretKey(readPrivateFile(settings.secretFile, 'auth.secretFile'), 'auth.secretFile'), source: 'secret-file', file: settings.secretFile };
  if (!options.dev) {
    throw new InputError('auth_key_missing', 'no admin token secret: set REGENT_AUTH_SECRET_FILE (auth.secretFile) or REGENT_AUTH_SECRET, or start in development mode (--dev) to generate one', { field: 'auth.secretFile' });
  }
  const path = devAdminSecretPath(options.dataDir);
  mkdirSync(join(options.dataDir, 'keys'), { recursive: true, mode: 0o700 });
  // Created atomically and never over an existing secret (temp file, fsync, link): a crash leaves no
  // half-written secret, and `regent token --dev` racing a starting server ends with one secret for both.
  if (createFileOnceSync(path, `${randomBytes(32).toString('base64url')}\n`, 0o600)) {
    options.logger.warn({ secretFile: path }, 'development mode: generated an admin token secret; do not use it in production');
    return { key: secretKey(readPrivateFile(path, 'auth.secretFile'), 'auth.secretFile'), source: 'generated', file: path };
  }
  options.logger.warn({ secretFile: path }, 'development mode: using the generated admin token secret; do not use it in production');
  return { key: secretKey(readPrivateFile(path, 'auth.secretFile'), 'auth.secretFile'), source: 'dev-secret-file', file: path };
}

function loadPublicKey(settings: AdminTokenKeySettings): LoadedAdminTokenKey {
  if (settings.secret || settings.secretFile) throw configError(settings.secret ? 'auth.secret' : 'auth.secretFile', `${settings.algorithms.join(', ')} tokens are verified with auth.publicKeyFile; an HMAC secret cannot be used with them`);
  const file = settings.publicKeyFile;
  if (!file) {
    throw new InputError('auth_key_missing', `no admin token public key: ${settings.algorithms.join(', ')} needs auth.publicKeyFile (REGENT_AUTH_PUBLIC_KEY_FILE); development mode only generates HMAC secrets`, { field: 'auth.publicKeyFile' });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: readFileSync(file), format: 'pem' });
  } catch (error) {
    throw new InputError('invalid_auth_key', `admin token public key file '${file}' is not a readable PEM public key or certificate`, { field: 'auth.publicKeyFile' }, { cause: error });
  }
  for (const algorithm of settings.algorithms) {
    const problem = keyProblem(algorithm, key);
    if (problem) throw new InputError('invalid_auth_key', `admin token public key '${file}' does not fit ${algorithm}: ${problem}`, { field: 'auth.publicKeyFile' });
  }
  return { key, source: 'public-key-file', file };
}

/** Why `key` cannot verify `algorithm` tokens, or undefined (the checks jsonwebtoken makes, at startup). */
export function keyProblem(algorithm: string, key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (algorithm.startsWith('ES')) {
    return type === 'ec' && details.namedCurve === CURVES[algorithm] ? undefined : `it needs an EC key on ${CURVES[algorithm]}, got ${type} ${details.namedCurve ?? ''}`.trim();
  }
  if (type !== 'rsa' && !(type === 'rsa-pss' && algorithm.startsWith('PS'))) return `it needs an RSA key, got ${type}`;
  if ((details.modulusLength ?? 0) < MIN_RSA_BITS) return `RSA keys must have at least ${MIN_RSA_BITS} bits`;
  return undefined;
}

/** A private key file as given to `regent token --private-key`; same permission rule as secret files. */
export function loadAdminTokenPrivateKey(file: string, algorithm: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: readPrivateFile(file, 'privateKey', false), format: 'pem' });
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError('invalid_auth_key', `'${file}' is not a readable unencrypted PEM private key`, { field: 'privateKey' }, { cause: error });
  }
  const problem = keyProblem(algorithm, createPublicKey(key));
  if (problem) throw new InputError('invalid_auth_key', `private key '${file}' does not fit ${algorithm}: ${problem}`, { field: 'privateKey' });
  return key;
}

function readPrivateFile(path: string, field: string, trimLineBreaks = true): Buffer {
  let mode: number;
  let bytes: Buffer;
  try {
    mode = statSync(path).mode;
    bytes = readFileSync(path);
  } catch (error) {
    throw new InputError('auth_key_missing', `admin token key file '${path}' cannot be read`, { field }, { cause: error });
  }
  if ((mode & 0o077) !== 0) {
    throw new InputError('insecure_key_file', `admin token key file '${path}' is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`, { field });
  }
  if (!trimLineBreaks) return bytes;
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end -= 1;
  return bytes.subarray(0, end);
}

function secretKey(bytes: Buffer, field: string): KeyObject {
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new InputError('invalid_auth_key', `the admin token secret (${field}) must have at least ${MIN_SECRET_BYTES} bytes; generate one with: openssl rand -base64 32`, { field });
  }
  return createSecretKey(bytes);
}

/**
 * Admin tokens and bundle signatures must never verify with the same key: every agent downloads the
 * bundle's signature, and for HMAC the shared secret is in every agent's config. Also refuses an
 * admin secret equal to the bundle public key's PEM text, the classic RS256-to-HS256 confusion.
 */
function assertSeparate(adminKey: KeyObject, signingKey: SigningKey): void {
  const signing = signingKey.privateKey;
  let same = false;
  if (adminKey.type === 'secret') {
    const secret = adminKey.export();
    const candidates = signing.type === 'secret' ? [signing.export()] : [Buffer.from(publicKeyPem(signing)), Buffer.from(publicKeyPem(signing).trimEnd())];
    same = candidates.some((candidate) => candidate.length === secret.length && timingSafeEqual(candidate, secret));
  } else if (signing.type !== 'secret') {
    same = adminKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(signing).export({ type: 'spki', format: 'der' }));
  }
  if (same) {
    throw new InputError('invalid_auth_key', `the admin token key is the bundle signing key '${signingKey.keyId}'; admin tokens need a key of their own, or a bundle signature would be an admin credential`, { field: 'auth' });
  }
}

function configError(field: string, message: string): InputError {
  return new InputError('invalid_config', `invalid configuration at '${field}': ${message}`, { field });
}
