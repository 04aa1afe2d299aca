import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { InputError } from '../errors.js';

/**
 * Bundle signing keys, for exactly the algorithms OPA verifies bundles with (opa:docs configuration
 * "Keys": RS/PS/ES/HS 256/384/512). Every check happens when a key is loaded, so a bad key stops Regent
 * at startup instead of producing bundles no agent accepts. Error messages name the key id and never
 * contain key material.
 */

export type SigningAlgorithm =
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'HS256' | 'HS384' | 'HS512';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512',
];

/** A private key (RS/PS/ES) or shared secret (HS) with the key id OPA's `keys:` config names it by. */
export interface SigningKey {
  keyId: string;
  algorithm: SigningAlgorithm;
  /** `type` is `private` for RS/PS/ES and `secret` for HS. */
  privateKey: KeyObject;
}

/** What an agent holds: `keys.<keyId>` with `algorithm`, `key` and optional `scope`. */
export interface VerificationKey {
  keyId: string;
  algorithm: SigningAlgorithm;
  /** `type` is `public` for RS/PS/ES and `secret` for HS. */
  publicKey: KeyObject;
  scope?: string;
}

const CURVES: Partial<Record<SigningAlgorithm, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const MIN_RSA_BITS = 2048;
const MIN_SECRET_BYTES = 32;

export function isSigningAlgorithm(name: string): name is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(name);
}

function keyError(keyId: string, message: string, cause?: unknown): InputError {
  return new InputError('invalid_signing_key', `signing key '${keyId}': ${message}`, { keyId }, cause === undefined ? undefined : { cause });
}

function checkHeader(keyId: string, algorithm: string): asserts algorithm is SigningAlgorithm {
  if (typeof keyId !== 'string' || keyId.length === 0) throw keyError(String(keyId), 'the key id must be a non-empty string');
  if (!isSigningAlgorithm(algorithm)) throw keyError(keyId, `algorithm '${algorithm}' is not one OPA verifies (${SIGNING_ALGORITHMS.join(', ')})`);
}

/**
 * HS* secrets are the text OPA reads from `keys.<id>.key` (it uses the string's bytes as the HMAC key),
 * so they must be UTF-8 text; secrets Regent signs with must have at least 32 bytes. Whitespace is kept
 * as given: a trailing newline from a secret file is part of the key unless the caller trims it.
 */
function secretKey(keyId: string, algorithm: SigningAlgorithm, material: string | Buffer, minBytes: number): KeyObject {
  const bytes = typeof material === 'string' ? Buffer.from(material, 'utf8') : material;
  if (!isUtf8(bytes)) throw keyError(keyId, `${algorithm} secret must be UTF-8 text, because OPA's keys config holds it as a string`);
  if (bytes.length < minBytes) throw keyError(keyId, `${algorithm} secret must be at least ${minBytes} bytes`);
  if (bytes.length === 0) throw keyError(keyId, `${algorithm} secret is empty`);
  return createSecretKey(bytes);
}

function checkAsymmetric(keyId: string, algorithm: SigningAlgorithm, key: KeyObject, minRsaBits: number): void {
  const details = key.asymmetricKeyDetails ?? {};
  if (algorithm.startsWith('ES')) {
    const curve = CURVES[algorithm];
    if (key.asymmetricKeyType !== 'ec' || details.namedCurve !== curve) {
      throw keyError(keyId, `${algorithm} needs an EC key on curve ${curve}; got ${describeKey(key)}`);
    }
    return;
  }
  // OPA (Go x509) cannot parse RSASSA-PSS keys, so PS* uses a plain RSA key like RS*.
  if (key.asymmetricKeyType !== 'rsa') throw keyError(keyId, `${algorithm} needs an RSA key; got ${describeKey(key)}`);
  if ((details.modulusLength ?? 0) < minRsaBits) throw keyError(keyId, `${algorithm} needs an RSA key of at least ${minRsaBits} bits; got ${details.modulusLength ?? 0}`);
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve ? `${key.asymmetricKeyType} (${curve})` : String(key.asymmetricKeyType);
}

/**
 * Loads a signing key: a PEM private key (PKCS#8, PKCS#1 or SEC1; unencrypted) for RS/PS/ES, the
 * shared secret text for HS. Refuses a key that does not fit the algorithm (RSA >= 2048 bits, the
 * algorithm's curve, secrets >= 32 bytes) with `InputError` `invalid_signing_key`.
 */
export function signingKeyFromPem(keyId: string, algorithm: SigningAlgorithm, material: string | Buffer): SigningKey {
  checkHeader(keyId, algorithm);
  if (algorithm.startsWith('HS')) return { keyId, algorithm, privateKey: secretKey(keyId, algorithm, material, MIN_SECRET_BYTES) };
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: material, format: 'pem' });
  } catch (error) {
    throw keyError(keyId, 'not a readable unencrypted PEM private key', error);
  }
  checkAsymmetric(keyId, algorithm, privateKey, MIN_RSA_BITS);
  return { keyId, algorithm, privateKey };
}

/** The verification half of a signing key (the same secret for HS*), with an optional scope. */
export function verificationKeyFor(signingKey: SigningKey, scope?: string): VerificationKey {
  const publicKey = signingKey.privateKey.type === 'secret' ? signingKey.privateKey : createPublicKey(signingKey.privateKey);
  return scope === undefined ? { keyId: signingKey.keyId, algorithm: signingKey.algorithm, publicKey } : { keyId: signingKey.keyId, algorithm: signingKey.algorithm, publicKey, scope };
}

/**
 * Loads a verification key as OPA's `keys:` config would: a PEM `PUBLIC KEY`, `RSA PUBLIC KEY` or
 * `CERTIFICATE` for RS/PS/ES (a private key PEM is accepted too; its public half is used), the secret
 * text for HS. The key type and curve must fit the algorithm; RSA size and secret length are not
 * checked, as OPA does not check them (its own test vectors use the secret `secret`).
 */
export function verificationKeyFromPem(keyId: string, algorithm: SigningAlgorithm, pemOrSecret: string | Buffer, scope?: string): VerificationKey {
  checkHeader(keyId, algorithm);
  let publicKey: KeyObject;
  if (algorithm.startsWith('HS')) {
    publicKey = secretKey(keyId, algorithm, pemOrSecret, 1);
  } else {
    try {
      publicKey = createPublicKey({ key: pemOrSecret, format: 'pem' });
    } catch (error) {
      throw keyError(keyId, 'not a readable PEM public key, certificate or private key', error);
    }
    checkAsymmetric(keyId, algorithm, publicKey, 0);
  }
  return scope === undefined ? { keyId, algorithm, publicKey } : { keyId, algorithm, publicKey, scope };
}

export interface GeneratedSigningKey {
  key: SigningKey;
  /** PKCS#8 PEM for RS/PS/ES; for HS the secret text itself. */
  privateKeyPem: string;
  /** SPKI PEM for RS/PS/ES; for HS the shared secret text, which agents need as `keys.<id>.key`. Keep it private then. */
  publicKeyPem: string;
}

/**
 * A fresh key: RSA 2048 for RS/PS, the algorithm's curve for ES, and for HS a 256-bit random secret
 * written as 43 base64url characters (text, because OPA's config holds HMAC keys as strings).
 */
export function generateSigningKey(keyId: string, algorithm: SigningAlgorithm): GeneratedSigningKey {
  checkHeader(keyId, algorithm);
  if (algorithm.startsWith('HS')) {
    const secret = randomBytes(32).toString('base64url');
    return { key: signingKeyFromPem(keyId, algorithm, secret), privateKeyPem: secret, publicKeyPem: secret };
  }
  const pair = algorithm.startsWith('ES')
    ? generateKeyPairSync('ec', { namedCurve: CURVES[algorithm] as string })
    : generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS, publicExponent: 0x10001 });
  const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { key: { keyId, algorithm, privateKey: pair.privateKey }, privateKeyPem, publicKeyPem: publicKeyPem(pair.privateKey) };
}

/**
 * What to give agents for `keys.<id>.key`: the SPKI PEM of the public key, or for HS keys the secret
 * text (which is then confidential).
 */
export function publicKeyPem(key: SigningKey | VerificationKey | KeyObject): string {
  const object = 'keyId' in key ? ('privateKey' in key ? key.privateKey : key.publicKey) : key;
  if (object.type === 'secret') return object.export().toString('utf8');
  const pub = object.type === 'private' ? createPublicKey(object) : object;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}
