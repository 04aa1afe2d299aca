import { createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { SIGNATURES_PATH } from '../domain/bundles/bundle.js';
import { checkBundleLayout } from '../domain/bundles/bundle-layout.js';
import { BundleVerifier } from '../domain/bundles/bundle-verifier.js';
import { isSigningAlgorithm, verificationKeyFromPem, type SigningAlgorithm } from '../domain/bundles/signing-key.js';
import { readTarball } from '../domain/bundles/tarball-reader.js';
import { isRegentError } from '../domain/errors.js';
import { CommandFailure, printJson, type CliIo } from './cli-io.js';
import type { VerifyFlags } from './program.js';
import { UsageError } from './usage-error.js';

/** A bundle larger than this is not read (OPA's default `size_limit_bytes` is 1 GiB). */
const MAX_BUNDLE_BYTES = 1024 ** 3;
const CURVE_ALGORITHMS: Readonly<Record<string, SigningAlgorithm>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/**
 * `regent verify <bundle> --key <pem>`: what an OPA agent configured with that key does before it
 * activates a bundle: the signature (Regent's `BundleVerifier`, OPA's rules: one JWT, the key pinned by
 * id, every file's digest, nothing unsigned, nothing missing) and the layout (manifest, packages and
 * data under the roots). Exit 1 when an agent would refuse it.
 */
export async function runVerify(bundlePath: string, flags: VerifyFlags, io: CliIo): Promise<void> {
  const bytes = readBundle(bundlePath);
  const keyMaterial = readKey(flags.key);
  try {
    const files = await readTarball(bytes);
    const signatureKeyId = keyIdNamedBy(files.find((file) => file.path === SIGNATURES_PATH)?.content);
    const keyId = flags.keyId ?? signatureKeyId.keyId ?? 'default';
    const algorithm = algorithmFor(keyMaterial, flags.signingAlg, signatureKeyId.alg);
    const key = verificationKeyFromPem(keyId, algorithm, keyMaterial, flags.scope);
    const verified = BundleVerifier.create([key]).verifyFiles(files, { keyId: flags.keyId, scope: flags.scope });
    const layout = checkBundleLayout(files);
    const result = {
      ok: true, bundle: bundlePath, revision: layout.revision, roots: layout.roots, keyId: verified.keyId, algorithm: verified.algorithm,
      signedFiles: verified.files.length, modules: layout.modules, dataFiles: layout.dataFiles, manifest: layout.manifest,
    };
    if (flags.json) return printJson(io, result);
    io.stdout(`ok: ${bundlePath}: signature by key '${verified.keyId}' (${verified.algorithm}) over ${verified.files.length} files holds; revision ${layout.revision || '(none)'}, roots [${layout.roots.join(', ')}], ${layout.modules.length} modules, ${layout.dataFiles.length} data files\n`);
  } catch (error) {
    if (!isRegentError(error)) throw error;
    if (flags.json) printJson(io, { ok: false, bundle: bundlePath, code: error.code, message: error.message, ...error.details });
    throw new CommandFailure(`refused: ${bundlePath}: ${error.message} [${error.code}]`);
  }
}

function readBundle(path: string): Buffer {
  try {
    const { size } = statSync(path);
    if (size > MAX_BUNDLE_BYTES) throw new UsageError(`${path} is ${size} bytes; bundles over ${MAX_BUNDLE_BYTES} bytes are not read`);
    return readFileSync(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read the bundle '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function readKey(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read the key '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The key id (and algorithm) the signature names, read without trusting it: the verifier checks both. */
function keyIdNamedBy(signatures: Buffer | undefined): { keyId?: string; alg?: string } {
  try {
    const token = (JSON.parse(signatures?.toString('utf8') ?? '') as { signatures?: unknown[] }).signatures?.[0];
    if (typeof token !== 'string') return {};
    const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
    const keyId = typeof header?.kid === 'string' && header.kid !== '' ? header.kid : typeof payload?.keyid === 'string' && payload.keyid !== '' ? payload.keyid : undefined;
    return { keyId, alg: typeof header?.alg === 'string' ? header.alg : undefined };
  } catch {
    return {};
  }
}

/**
 * The algorithm to verify with: `--signing-alg`, else what the key is for. An RSA key verifies RS256 (or
 * the RS/PS variant the signature names: same key family, so no confusion is possible), an EC key its
 * curve's ES algorithm. HMAC is never guessed: a public key must not become an HMAC secret.
 */
function algorithmFor(material: Buffer, given: string | undefined, named: string | undefined): SigningAlgorithm {
  if (given !== undefined) {
    if (!isSigningAlgorithm(given)) throw new UsageError(`unknown --signing-alg '${given}'`);
    return given;
  }
  let type: string | undefined;
  let curve: string | undefined;
  try {
    const key = createPublicKey(material);
    type = key.asymmetricKeyType;
    curve = key.asymmetricKeyDetails?.namedCurve;
  } catch {
    throw new UsageError('the key is not a PEM public key (or certificate); for an HMAC secret give --signing-alg HS256/384/512');
  }
  const byCurve = curve === undefined ? undefined : CURVE_ALGORITHMS[curve];
  if (type === 'ec' && byCurve) return byCurve;
  if (type === 'rsa' || type === 'rsa-pss') return named !== undefined && /^(RS|PS)(256|384|512)$/.test(named) ? (named as SigningAlgorithm) : 'RS256';
  throw new UsageError(`a ${type ?? 'unknown'} key${curve ? ` on ${curve}` : ''} cannot verify OPA bundles; give --signing-alg`);
}
