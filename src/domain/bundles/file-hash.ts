import { createHash } from 'node:crypto';
import { isScalar, parseDocument, visit } from 'yaml';
import { InputError } from '../errors.js';
import type { CanonicalFormMemo } from './canonical-form-memo.js';
import { canonicalJsonFromText, canonicalJsonFromValue } from './canonical-json.js';
import { sha256HexAsync } from './digest.js';

/**
 * How OPA digests one bundle file for `.signatures.json` (opa:v1/bundle/verify.go `VerifyBundleFile`,
 * opa:v1/bundle/hash.go): structured files over their canonical JSON, everything else over raw bytes.
 */

/** OPA's hashing algorithm names, spelled exactly as the `algorithm` field must carry them. */
export type HashAlgorithm = 'MD5' | 'SHA-1' | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512' | 'SHA-512-224' | 'SHA-512-256';

const NODE_HASH: Record<HashAlgorithm, string> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
};

export const HASH_ALGORITHMS = Object.keys(NODE_HASH) as readonly HashAlgorithm[];

/** True for OPA's names only: `SHA256` or `sha-256` are refused by OPA ("unsupported hashing algorithm"). */
export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return Object.hasOwn(NODE_HASH, name);
}

const STRUCTURED_BASE_NAMES = new Set(['data.json', 'data.yaml', 'data.yml', 'signatures.json', '.manifest']);

/**
 * OPA's `IsStructuredDoc`: the base name (Go `filepath.Base`) is exactly `data.json`, `data.yaml`,
 * `data.yml`, `signatures.json` or `.manifest`, case-sensitively. `data.yml` is on the list in OPA
 * v1.22.2 (measured with `opa sign`, see file-hash.test.ts), although older `bundle.go` copies list only
 * the other four. Everything else is hashed as raw bytes, including `x/foo.manifest` (which OPA still
 * loads as the manifest), `.signatures.json` itself, `plan.json`, `patch.json` and `data.JSON`.
 */
export function isStructuredFile(path: string): boolean {
  const trimmed = path.replace(/\/+$/, '');
  const base = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return STRUCTURED_BASE_NAMES.has(base);
}

/**
 * Lower-case hex digest of a bundle file as OPA computes it to compare with the signed `hash`. With a
 * `memo`, a structured file whose bytes are known to be canonical is hashed as it is, and one found to
 * be canonical is remembered.
 */
export function hashBundleFile(path: string, content: Buffer, algorithm: HashAlgorithm = 'SHA-256', memo?: CanonicalFormMemo): string {
  if (!isHashAlgorithm(algorithm)) throw new InputError('hash_algorithm_unsupported', `unsupported hashing algorithm: ${String(algorithm)}`);
  if (!memo || algorithm !== 'SHA-256' || !isStructuredFile(path)) return createHash(NODE_HASH[algorithm]).update(hashedBytes(path, content)).digest('hex');
  const raw = createHash('sha256').update(content).digest('hex');
  if (memo.has(raw)) return raw;
  const canonical = hashedBytes(path, content);
  if (canonical.equals(content)) {
    memo.remember(raw);
    return raw;
  }
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * {@link hashBundleFile} with SHA-256 and a memo, hashing large files off the event loop: the digest of
 * a structured file known to be canonical, or of any other file, is the SHA-256 of its bytes.
 */
export async function hashBundleFileAsync(path: string, content: Buffer, memo?: CanonicalFormMemo): Promise<string> {
  const raw = await sha256HexAsync(content);
  if (!isStructuredFile(path) || memo?.has(raw)) return raw;
  return hashBundleFile(path, content, 'SHA-256', memo);
}

/**
 * The bytes OPA feeds to the hash for `path`: for a structured file its canonical JSON (BOM stripped;
 * JSON if it parses, else YAML converted to JSON, as `util.Unmarshal` does), else `content` itself.
 * Duplicate JSON keys keep the last value, like Go's decoder. Throws `InputError` when a structured
 * file is neither JSON nor YAML.
 */
export function hashedBytes(path: string, content: Buffer): Buffer {
  if (!isStructuredFile(path)) return content;
  let json;
  try {
    json = canonicalJsonFromText(content, path, { duplicateKeys: 'last-wins' });
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    json = canonicalJsonFromValue(yamlFallback(content, path));
  }
  return Buffer.from(json, 'utf8');
}

/**
 * Go's `strconv.ParseInt(s, 0, 64)` reads a plain `017` as octal 15, which OPA's YAML reader keeps
 * from YAML 1.1; the YAML 1.2 core schema would read 17.
 */
const LEGACY_OCTAL = {
  identify: (value: unknown) => typeof value === 'bigint',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^[-+]?0[0-7]+$/,
  resolve: (source: string) => (source.startsWith('-') ? -BigInt(`0o${source.slice(2)}`) : BigInt(`0o${source.replace(/^\+?0/, '')}`)),
};

/**
 * OPA converts a structured file that is not JSON with `sigs.k8s.io/yaml`. Measured against
 * `opa sign` v1.22.2: YAML 1.2 booleans (`on`/`yes` stay strings), timestamps as strings, merge keys
 * and aliases resolved, `017` octal, a null key an error. This mirrors those; rarer syntax
 * (underscores in numbers, integers beyond 64 bits, binary) may differ. Regent ships only canonical
 * JSON, so this matters only when verifying bundles built elsewhere.
 */
function yamlFallback(content: Buffer, path: string): unknown {
  const text = content.toString('utf8').replace(/^\uFEFF/, '');
  try {
    const doc = parseDocument(text, {
      version: '1.2', schema: 'core', merge: true, uniqueKeys: false, intAsBigInt: true, customTags: (tags) => [LEGACY_OCTAL, ...tags],
    });
    if (doc.errors.length > 0) throw doc.errors[0];
    visit(doc, {
      Pair(_, pair) {
        if (!isScalar(pair.key) || pair.key.value === null) throw new Error('a map key is null or not a scalar');
      },
    });
    return doc.toJS({ maxAliasCount: 1000 }) as unknown;
  } catch (error) {
    throw new InputError('invalid_structured_file', `${path}: neither JSON nor YAML: ${(error as Error).message.split('\n')[0]}`, { file: path }, { cause: error });
  }
}
