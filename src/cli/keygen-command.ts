import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateSigningKey, isSigningAlgorithm } from '../domain/bundles/signing-key.js';
import { createFileOnceSync } from '../storage/atomic-file.js';
import { printJson, type CliIo } from './cli-io.js';
import type { KeygenFlags } from './program.js';
import { UsageError } from './usage-error.js';

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * `regent keygen`: a bundle signing key pair, `<key-id>.pem` (PKCS#8) and `<key-id>.pub.pem` (SPKI, what
 * agents get as `keys.<key-id>.key`), both created mode 0600, atomically, never over an existing file.
 * For HS* one secret file, `<key-id>.secret`, which agents need as well (keep it confidential).
 */
export function runKeygen(flags: KeygenFlags, io: CliIo): void {
  if (!KEY_ID.test(flags.keyId)) throw new UsageError(`--key-id must be 1-64 letters, digits, '.', '_' or '-'; got '${flags.keyId}'`);
  if (!isSigningAlgorithm(flags.signingAlg)) throw new UsageError(`unknown --signing-alg '${flags.signingAlg}'`);
  const dir = resolve(flags.output);
  const hmac = flags.signingAlg.startsWith('HS');
  const files = hmac ? { secret: join(dir, `${flags.keyId}.secret`) } : { privateKey: join(dir, `${flags.keyId}.pem`), publicKey: join(dir, `${flags.keyId}.pub.pem`) };
  const existing = Object.values(files).filter((file) => existsSync(file));
  if (existing.length > 0) throw new UsageError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; keygen never replaces a key (agents may trust it): choose another --key-id or --output`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const generated = generateSigningKey(flags.keyId, flags.signingAlg);
  const created = hmac
    ? createFileOnceSync(files.secret!, `${generated.privateKeyPem}\n`, 0o600)
    : createFileOnceSync(files.privateKey!, generated.privateKeyPem, 0o600) && createFileOnceSync(files.publicKey!, generated.publicKeyPem, 0o600);
  if (!created) throw new UsageError(`another process created ${Object.values(files).join(' or ')} at the same time; nothing was replaced`);
  const result = { keyId: flags.keyId, algorithm: flags.signingAlg, ...files };
  if (flags.json) return printJson(io, result);
  io.stdout(hmac
    ? `wrote ${files.secret} (${flags.signingAlg} secret, mode 0600): Regent's REGENT_SIGNING_KEY_FILE and the agents' keys.${flags.keyId}.key; keep it secret\n`
    : `wrote ${files.privateKey} (${flags.signingAlg} private key, mode 0600): Regent's REGENT_SIGNING_KEY_FILE, with REGENT_SIGNING_KEY_ID=${flags.keyId} REGENT_SIGNING_ALG=${flags.signingAlg}\n`
      + `wrote ${files.publicKey} (public key, mode 0600; chmod 644 to share it): the agents' keys.${flags.keyId}.key, with signing.keyid: ${flags.keyId}\n`);
}
