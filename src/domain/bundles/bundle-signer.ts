import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { BuildError, InputError } from '../errors.js';
import { SIGNATURES_PATH, type BundleFile } from './bundle.js';
import { hashBundleFile, isHashAlgorithm, type HashAlgorithm } from './file-hash.js';
import type { SigningKey } from './signing-key.js';

/** One entry of the signed `files` list (opa:v1/bundle/bundle.go `FileInfo`). */
export interface FileInfo {
  /** The tar entry name with one leading `/` removed: how OPA looks the file up. */
  name: string;
  /** Lower-case hex digest. */
  hash: string;
  algorithm: HashAlgorithm;
}

/**
 * Remembers the JWS produced for a payload. ES* and PS* signatures are randomized, so without a cache
 * the same revision would get different `.signatures.json` bytes, hence different ETags, on each build,
 * replica and restart. Keys are opaque digests; values are compact JWS strings.
 */
export interface SignatureCache {
  get(key: string): string | undefined;
  set(key: string, jws: string): void;
}

/**
 * ES* and PS* signatures take a random number on every signing (ECDSA's nonce, PSS's salt): the same
 * bundle signed twice gets two signatures. RS* and HS* give one signature per payload and key, so
 * replicas that sign independently serve the same bytes and ETags only with those.
 */
export function signsRandomized(algorithm: string): boolean {
  return algorithm.startsWith('ES') || algorithm.startsWith('PS');
}

export interface BundleSignerOptions {
  key: SigningKey;
  /** Written as the `scope` claim. Agents compare it exactly; empty or undefined writes none. */
  scope?: string;
  cache?: SignatureCache;
}

/**
 * Signs bundles the way OPA verifies them (opa:v1/bundle/sign.go, verify.go): one compact JWS in
 * `.signatures.json`, header `{alg, typ, kid}`, payload `{files, keyid, scope?}` with `files` in the
 * given order. RS* and HS* output is a pure function of the payload and key. ES* and PS* are not: they
 * rely on the {@link SignatureCache}, keyed by a SHA-256 over algorithm, key id, public-key fingerprint
 * and payload, so a rotated key under the same id never reuses an old signature. A cached JWS is used
 * only after checking it carries this payload and verifies with this key.
 */
export class BundleSigner {
  private readonly randomized: boolean;
  private readonly fingerprint: string;

  private constructor(
    private readonly key: SigningKey,
    private readonly scope: string,
    private readonly cache: SignatureCache | undefined,
  ) {
    this.randomized = signsRandomized(key.algorithm);
    this.fingerprint = this.randomized ? createHash('sha256').update(this.publicKey().export({ type: 'spki', format: 'der' })).digest('hex') : '';
  }

  static create(options: BundleSignerOptions): BundleSigner {
    return new BundleSigner(options.key, options.scope ?? '', options.cache);
  }

  get keyId(): string {
    return this.key.keyId;
  }

  /**
   * The signed entry for one bundle file (SHA-256, structured files over canonical JSON). Refuses a
   * path ending in `signatures.json`: OPA reads every such file as the signatures file
   * (bundle.go `preProcessBundle`), so it could never be verified, and it would replace ours.
   */
  fileInfo(file: BundleFile): FileInfo {
    if (file.path.endsWith('signatures.json')) {
      throw new InputError('reserved_bundle_path', `${file.path}: OPA treats any file whose name ends in 'signatures.json' as the bundle's signatures; rename it`, { file: file.path });
    }
    return { name: file.path, hash: hashBundleFile(file.path, file.content, 'SHA-256'), algorithm: 'SHA-256' };
  }

  /** The compact JWS over `files`. Throws `BuildError` `signing_failed` on an unusable list or key. */
  signFileInfos(files: readonly FileInfo[]): string {
    checkFileInfos(files);
    const payload: Record<string, unknown> = {
      files: files.map(({ name, hash, algorithm }) => ({ name, hash, algorithm })),
      keyid: this.key.keyId,
    };
    if (this.scope !== '') payload.scope = this.scope;
    const payloadJson = JSON.stringify(payload);
    if (!this.randomized || !this.cache) return this.sign(payload);

    const cacheKey = createHash('sha256')
      .update(JSON.stringify(['regent-bundle-signature/1', this.key.algorithm, this.key.keyId, this.fingerprint, payloadJson]))
      .digest('hex');
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined && this.isValidFor(cached, payloadJson)) return cached;
    const token = this.sign(payload);
    this.cache.set(cacheKey, token);
    return token;
  }

  /** The `.signatures.json` bytes: `{"signatures":["<jws>"]}`. */
  signaturesFile(files: readonly FileInfo[]): Buffer {
    return Buffer.from(JSON.stringify({ signatures: [this.signFileInfos(files)] }), 'utf8');
  }

  private sign(payload: Record<string, unknown>): string {
    try {
      return jwt.sign(payload, this.key.privateKey, { algorithm: this.key.algorithm, keyid: this.key.keyId, noTimestamp: true });
    } catch (error) {
      throw new BuildError('signing_failed', `signing with key '${this.key.keyId}' (${this.key.algorithm}) failed: ${(error as Error).message}`, { keyId: this.key.keyId }, { cause: error });
    }
  }

  private publicKey(): KeyObject {
    return this.key.privateKey.type === 'secret' ? this.key.privateKey : createPublicKey(this.key.privateKey);
  }

  /** A cached token is trusted only if it signs exactly this payload under this key id and key. */
  private isValidFor(token: string, payloadJson: string): boolean {
    const [header, payload] = token.split('.');
    if (payload !== Buffer.from(payloadJson, 'utf8').toString('base64url') || header === undefined) return false;
    try {
      const decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown; kid?: unknown };
      if (decoded.alg !== this.key.algorithm || decoded.kid !== this.key.keyId) return false;
      jwt.verify(token, this.publicKey(), { algorithms: [this.key.algorithm], ignoreExpiration: true, ignoreNotBefore: true });
      return true;
    } catch {
      return false;
    }
  }
}

function checkFileInfos(files: readonly FileInfo[]): void {
  const seen = new Set<string>();
  for (const file of files) {
    const problem =
      typeof file.name !== 'string' || file.name === '' ? 'an empty name'
        : file.name === SIGNATURES_PATH ? 'the signatures file itself'
          : seen.has(file.name) ? 'a duplicate name'
            : !isHashAlgorithm(file.algorithm) ? `unsupported hashing algorithm ${JSON.stringify(file.algorithm)}`
              : !/^(?:[0-9a-f]{2})+$/.test(file.hash) ? 'a hash that is not lower-case hex'
                : undefined;
    if (problem) throw new BuildError('signing_failed', `cannot sign file list: ${JSON.stringify(file.name)} has ${problem}`, { file: file.name });
    seen.add(file.name);
  }
}
