import jwt from 'jsonwebtoken';
import { BuildError, InputError } from '../errors.js';
import { SIGNATURES_PATH } from './bundle.js';
import type { CanonicalFormMemo } from './canonical-form-memo.js';
import type { FileInfo } from './bundle-signer.js';
import { JsonNumber, parseJsonData, type JsonValue } from './canonical-json.js';
import { hashBundleFile, isHashAlgorithm } from './file-hash.js';
import type { SigningAlgorithm, VerificationKey } from './signing-key.js';
import { readTarball, type TarballLimits } from './tarball-reader.js';

/**
 * OPA's bundle signature verification, reimplemented so Regent refuses to publish a bundle an agent
 * would refuse (opa:v1/bundle/verify.go `verifyJWTSignature`, `VerifyBundleFile`; opa:v1/bundle/bundle.go
 * `Read`, `checkSignaturesAndDescriptors`). Messages follow OPA's wording. Every failure is a
 * `BuildError` with one of the codes: `signature_missing`, `signature_invalid`, `unknown_key_id`,
 * `scope_mismatch`, `file_not_signed`, `signed_file_missing`, `hash_algorithm_unsupported`,
 * `digest_mismatch`, `signed_file_invalid` (plus the tarball reader's `tarball_invalid`/`tarball_too_large`).
 *
 * Stricter than OPA where OPA would accept a bundle Regent never means to produce: no signatures at all
 * is an error (OPA accepts unsigned bundles unless `signing.keyid` is set), a file listed twice in the
 * payload is an error (OPA keeps the last), and so is any other file ending in `signatures.json` (OPA
 * silently reads it as the signatures file and never verifies it). Delta bundles are not special-cased.
 */

/** The JWT payload as OPA decodes it (bundle.go `DecodedSignature`). */
export interface DecodedSignature {
  files: Array<{ name: string; hash: string; algorithm: string }>;
  keyid: string;
  scope: string;
  iat: number;
  iss: string;
}

export interface VerifyOptions {
  /** The agent's `bundles.<n>.signing.keyid`: wins over the JWT `kid` header and the `keyid` claim. */
  keyId?: string;
  /** The agent's `signing.scope`; when empty, the key's `scope` applies. Compared exactly. */
  scope?: string;
  /**
   * SHA-256 digests (by OPA's rule, `hashBundleFile`) already computed for these exact content buffers,
   * by identity: a caller that verifies the same buffers build after build hashes each only once.
   */
  knownDigests?: { get(content: Buffer): string | undefined };
}

export interface VerifyTarballOptions extends VerifyOptions {
  limits?: TarballLimits;
}

export interface VerifiedSignature {
  keyId: string;
  algorithm: SigningAlgorithm;
  scope: string;
  /** The signed list, in payload order; every entry was present and matched. */
  files: FileInfo[];
  issuedAt?: number;
  issuer?: string;
}

function fail(code: string, message: string, details: Record<string, unknown> = {}, cause?: unknown): never {
  throw new BuildError(code, message, details, cause === undefined ? undefined : { cause });
}

export interface BundleVerifierOptions {
  /** Shared with the builder: structured files it shipped in canonical form are not re-canonicalized. */
  canonicalForms?: CanonicalFormMemo;
}

export class BundleVerifier {
  private constructor(private readonly keys: ReadonlyMap<string, VerificationKey>, private readonly canonicalForms: CanonicalFormMemo | undefined) {}

  /** Keys by id, as in the agents' `keys:` config. A repeated key id is an `InputError`. */
  static create(keys: readonly VerificationKey[], options: BundleVerifierOptions = {}): BundleVerifier {
    const byId = new Map<string, VerificationKey>();
    for (const key of keys) {
      if (byId.has(key.keyId)) throw new InputError('invalid_signing_key', `verification key id '${key.keyId}' is configured twice`, { keyId: key.keyId });
      byId.set(key.keyId, key);
    }
    return new BundleVerifier(byId, options.canonicalForms);
  }

  /** Reads a tar.gz (see `readTarball`) and verifies its files. */
  async verifyTarball(tarGz: Buffer, options: VerifyTarballOptions = {}): Promise<VerifiedSignature> {
    return this.verifyFiles(await readTarball(tarGz, options.limits), options);
  }

  /**
   * Verifies a bundle given as its files (paths with no leading `/`, in archive order): the one JWT
   * in `.signatures.json`, then every other file against its signed digest, then that nothing signed is
   * missing, in OPA's order.
   */
  verifyFiles(files: readonly { path: string; content: Buffer }[], options: VerifyOptions = {}): VerifiedSignature {
    const stray = files.find((file) => file.path.endsWith('signatures.json') && file.path !== SIGNATURES_PATH);
    if (stray) fail('signature_invalid', `${stray.path}: OPA reads every file ending in 'signatures.json' as the bundle signatures; only ${SIGNATURES_PATH} may exist`, { file: stray.path });
    const signaturesFile = files.find((file) => file.path === SIGNATURES_PATH);
    if (!signaturesFile) fail('signature_missing', `bundle missing ${SIGNATURES_PATH} file`);
    const tokens = decodeSignaturesConfig(signaturesFile.content);
    if (tokens.length === 0) fail('signature_missing', `${SIGNATURES_PATH}: missing JWT (expected exactly one)`);
    if (tokens.length > 1) fail('signature_invalid', `${SIGNATURES_PATH}: multiple JWTs not supported (expected exactly one)`);
    const verified = this.verifyToken(tokens[0] as string, options);

    const listed = new Map<string, DecodedSignature['files'][number]>();
    for (const entry of verified.payload.files) {
      if (listed.has(entry.name)) fail('signature_invalid', `file ${entry.name} is listed more than once in the bundle signature`, { file: entry.name });
      listed.set(entry.name, entry);
    }
    const checked: FileInfo[] = [];
    for (const file of files) {
      if (file.path === SIGNATURES_PATH) continue;
      const entry = listed.get(file.path);
      if (!entry) fail('file_not_signed', `file ${file.path} not included in bundle signature`, { file: file.path });
      checked.push(verifyDigest(file.path, file.content, entry, this.canonicalForms, options.knownDigests));
      listed.delete(file.path);
    }
    if (listed.size > 0) {
      fail('signed_file_missing', `file(s) [${[...listed.keys()].join(' ')}] specified in bundle signatures but not found in the target bundle`, { files: [...listed.keys()] });
    }
    const order = new Map(verified.payload.files.map((entry, i) => [entry.name, i]));
    checked.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
    const result: VerifiedSignature = { keyId: verified.keyId, algorithm: verified.algorithm, scope: verified.payload.scope, files: checked };
    if (verified.payload.iat !== 0) result.issuedAt = verified.payload.iat;
    if (verified.payload.iss !== '') result.issuer = verified.payload.iss;
    return result;
  }

  /**
   * Verifies one compact JWS as OPA's `verifyJWTSignature` does: key id from `options.keyId`, else the
   * header `kid`, else the payload `keyid`; the algorithm is the key's (the header `alg` must match);
   * the signature only (no `exp`/`nbf`/`iat` rules, like OPA); then the scope, exactly.
   */
  verifyToken(token: string, options: VerifyOptions = {}): { keyId: string; algorithm: SigningAlgorithm; payload: DecodedSignature } {
    const parts = token.split('.');
    if (parts.length !== 3) fail('signature_invalid', 'failed to split compact JWT: invalid number of segments');
    const headerBytes = rawUrlDecode(parts[0] as string);
    if (!headerBytes) fail('signature_invalid', 'failed to base64 decode JWT headers');
    let header: JsonValue;
    try {
      header = parseJsonData(headerBytes, 'JWT header', { duplicateKeys: 'last-wins' });
    } catch (error) {
      return fail('signature_invalid', `failed to parse JWT headers: ${(error as Error).message}`, {}, error);
    }
    if (header !== null && !(header instanceof Map)) fail('signature_invalid', 'failed to parse JWT headers: not a JSON object');
    const payloadBytes = rawUrlDecode(parts[1] as string);
    if (!payloadBytes) fail('signature_invalid', 'failed to base64 decode JWT payload');
    const payload = decodeSignaturePayload(payloadBytes);

    const kid = header?.get('kid');
    const keyId = options.keyId || (typeof kid === 'string' ? kid : '') || payload.keyid;
    if (keyId === '') fail('unknown_key_id', 'verification key ID is empty');
    const key = this.keys.get(keyId);
    if (!key) fail('unknown_key_id', `verification key corresponding to ID ${keyId} not found`, { keyId });
    const alg = header?.get('alg');
    if (alg !== key.algorithm) {
      fail('signature_invalid', `failed to verify JWT signature: the JWT header alg ${JSON.stringify(alg ?? null)} is not the algorithm of key '${keyId}' (${key.algorithm})`, { keyId });
    }
    try {
      jwt.verify(token, key.publicKey, { algorithms: [key.algorithm], ignoreExpiration: true, ignoreNotBefore: true });
    } catch (error) {
      fail('signature_invalid', `failed to verify JWT signature: ${(error as Error).message}`, { keyId }, error);
    }
    const expectedScope = options.scope || key.scope || '';
    if (payload.scope !== expectedScope) {
      fail('scope_mismatch', `scope mismatch: the bundle is signed for scope '${payload.scope}', the agent expects '${expectedScope}'`, { keyId });
    }
    return { keyId, algorithm: key.algorithm, payload };
  }
}

function verifyDigest(path: string, content: Buffer, entry: DecodedSignature['files'][number], canonicalForms: CanonicalFormMemo | undefined, known: VerifyOptions['knownDigests']): FileInfo {
  if (entry.algorithm === '') fail('hash_algorithm_unsupported', `no hashing algorithm provided for file ${path}`, { file: path });
  if (!isHashAlgorithm(entry.algorithm)) fail('hash_algorithm_unsupported', `unsupported hashing algorithm: ${entry.algorithm}`, { file: path });
  let actual: string;
  try {
    actual = (entry.algorithm === 'SHA-256' ? known?.get(content) : undefined) ?? hashBundleFile(path, content, entry.algorithm, canonicalForms);
  } catch (error) {
    return fail('signed_file_invalid', `${path}: cannot be hashed as OPA would: ${(error as Error).message}`, { file: path }, error);
  }
  // Go's hex.DecodeString: even length, either case.
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(entry.hash)) fail('digest_mismatch', `${path}: signed hash ${JSON.stringify(entry.hash)} is not hex`, { file: path });
  const want = entry.hash.toLowerCase();
  if (want !== actual) fail('digest_mismatch', `${path}: digest mismatch (want: ${want}, got: ${actual})`, { file: path });
  return { name: entry.name, hash: entry.hash, algorithm: entry.algorithm };
}

/** Go's `base64.RawURLEncoding.DecodeString`: URL alphabet, no padding. */
function rawUrlDecode(segment: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(segment) || segment.length % 4 === 1) return undefined;
  return Buffer.from(segment, 'base64url');
}

/**
 * Go's `encoding/json` into a struct: field names match case-insensitively (the last matching key
 * wins), unknown fields are ignored, `null` leaves the zero value, and a wrong type is an error.
 */
function structFields(value: JsonValue, goType: string): Map<string, JsonValue> {
  const fields = new Map<string, JsonValue>();
  if (value === null) return fields;
  if (!(value instanceof Map)) fail('signature_invalid', `json: cannot unmarshal ${jsonKind(value)} into Go value of type ${goType}`);
  for (const [key, v] of value) fields.set(key.toLowerCase().replaceAll('\u017f', 's'), v);
  return fields;
}

function goString(fields: Map<string, JsonValue>, name: string, goType: string): string {
  const v = fields.get(name) ?? null;
  if (v === null) return '';
  if (typeof v !== 'string') fail('signature_invalid', `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${goType}.${name} of type string`);
  return v;
}

function jsonKind(v: JsonValue): string {
  if (v instanceof Map) return 'object';
  if (Array.isArray(v)) return 'array';
  if (v instanceof JsonNumber) return `number ${v.text}`;
  return typeof v;
}

function decodeSignaturePayload(bytes: Buffer): DecodedSignature {
  let value: JsonValue;
  try {
    value = parseJsonData(bytes, 'JWT payload', { duplicateKeys: 'last-wins' });
  } catch (error) {
    return fail('signature_invalid', `failed to parse JWT payload: ${(error as Error).message}`, {}, error);
  }
  const type = 'DecodedSignature';
  const fields = structFields(value, `bundle.${type}`);
  const rawFiles = fields.get('files') ?? null;
  if (rawFiles !== null && !Array.isArray(rawFiles)) {
    fail('signature_invalid', `json: cannot unmarshal ${jsonKind(rawFiles)} into Go struct field ${type}.files of type []bundle.FileInfo`);
  }
  const files = (rawFiles ?? []).map((item) => {
    const f = structFields(item, 'bundle.FileInfo');
    return { name: goString(f, 'name', 'FileInfo'), hash: goString(f, 'hash', 'FileInfo'), algorithm: goString(f, 'algorithm', 'FileInfo') };
  });
  const rawIat = fields.get('iat') ?? null;
  let iat = 0;
  if (rawIat !== null) {
    const ok = rawIat instanceof JsonNumber && /^-?\d+$/.test(rawIat.text) && BigInt.asIntN(64, BigInt(rawIat.text)) === BigInt(rawIat.text);
    if (!ok) fail('signature_invalid', `json: cannot unmarshal ${jsonKind(rawIat)} into Go struct field ${type}.iat of type int64`);
    iat = Number(rawIat.text);
  }
  return { files, keyid: goString(fields, 'keyid', type), scope: goString(fields, 'scope', type), iat, iss: goString(fields, 'iss', type) };
}

/** Go's decoding into `SignaturesConfig`: `{"signatures": [..], "plugin": ".."}`; returns the tokens. */
function decodeSignaturesConfig(content: Buffer): string[] {
  let value: JsonValue;
  try {
    value = parseJsonData(content, SIGNATURES_PATH, { duplicateKeys: 'last-wins' });
  } catch (error) {
    return fail('signature_invalid', `bundle load failed on signatures decode: ${(error as Error).message}`, { file: SIGNATURES_PATH }, error);
  }
  const fields = structFields(value, 'bundle.SignaturesConfig');
  const plugin = goString(fields, 'plugin', 'SignaturesConfig');
  const raw = fields.get('signatures') ?? null;
  if (raw !== null && !Array.isArray(raw)) fail('signature_invalid', `json: cannot unmarshal ${jsonKind(raw)} into Go struct field SignaturesConfig.signatures of type []string`);
  // OPA treats a signatures file with neither field set as no signatures at all (`SignaturesConfig.isEmpty`).
  if (raw === null && plugin === '') fail('signature_missing', `${SIGNATURES_PATH} holds no signatures`, { file: SIGNATURES_PATH });
  if (plugin !== '' && plugin !== '_default') fail('signature_invalid', `no verifier exists under id ${plugin}`, { file: SIGNATURES_PATH });
  return (raw ?? []).map((token) => {
    if (token !== null && typeof token !== 'string') fail('signature_invalid', `json: cannot unmarshal ${jsonKind(token)} into Go struct field SignaturesConfig.signatures of type string`);
    return token ?? '';
  });
}
