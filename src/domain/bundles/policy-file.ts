import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { BuildError, InputError } from '../errors.js';
import { TimeSlice } from '../time-slice.js';
import { canonicalJsonFromValue, parseYamlData } from './canonical-json.js';
import { canonicalJsonBytes } from './canonical-json-fast.js';
import { sha256HexAsync } from './digest.js';
import { dataKeyPosition, firstInvalidUtf8Position } from './data-file-position.js';
import { regoPackage } from './rego-package.js';

/**
 * How a repository file takes part in bundles. A `spec` (`*.policy.yaml`, a declarative role spec) is
 * compiled into a module at build time: the module ships, the spec does not.
 */
export type PolicyFileKind = 'module' | 'test' | 'data' | 'spec' | 'other';

/** The suffix of declarative role specs. */
export const SPEC_SUFFIX = '.policy.yaml';

/** A repository file made ready for shipping: its bundle path, exact bytes and what it declares. */
export interface PreparedPolicyFile {
  /** Path in the repository. */
  sourcePath: string;
  /** Path in the bundle (`data.yaml` ships as canonical `data.json` in the same directory). */
  bundlePath: string;
  kind: 'module' | 'data';
  content: Buffer;
  /** Lower-hex SHA-256 of `content`: also OPA's digest, since data and manifest bytes are canonical. */
  sha256: string;
  /** Modules: the package as data path segments. */
  packagePath?: string[];
  /** Modules: where the `package` statement is (1-based), for errors about the package. */
  packageAt?: { line: number; column: number };
  /** Data: the parsed value (for roots checks) and the directory it is mounted at. */
  data?: unknown;
}

/** Classifies a repository path: modules, Rego tests, data documents (by base name, as OPA does), specs, other. */
export function policyFileKind(path: string): PolicyFileKind {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base.endsWith('_test.rego')) return 'test';
  if (base.endsWith('.rego')) return 'module';
  if (base === 'data.json' || base === 'data.yaml' || base === 'data.yml') return 'data';
  if (base.endsWith(SPEC_SUFFIX) && base.length > SPEC_SUFFIX.length) return 'spec';
  return 'other';
}

export function directoryOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

const SHIPPED_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Turns one module or data file into its shipped form. Data is rewritten canonically (compact, keys in
 * byte order, number text kept), which is the form OPA hashes, so the signed digest is simply the
 * SHA-256 of the shipped bytes; YAML data is converted to JSON here so agents load exactly the value
 * that was validated (OPA's YAML reader and ours disagree on YAML 1.1 corners).
 */
export async function preparePolicyFile(sourcePath: string, content: Buffer, slice = new TimeSlice()): Promise<PreparedPolicyFile> {
  for (const segment of sourcePath.split('/')) {
    if (!SHIPPED_SEGMENT.test(segment)) {
      throw new BuildError('invalid_path', `'${sourcePath}' cannot be shipped: segment '${segment}' must be letters, digits, '_', '.', '-' and not start with '.' or '-'`, { file: sourcePath });
    }
  }
  const kind = policyFileKind(sourcePath);
  if (kind === 'module') {
    const text = decodeUtf8(content, sourcePath);
    const declared = regoPackage(text, sourcePath);
    return { sourcePath, bundlePath: sourcePath, kind, content, sha256: sha256Hex(content), packagePath: declared.path, packageAt: { line: declared.line, column: declared.column } };
  }
  if (kind !== 'data') throw new Error(`not a shipped policy file: ${sourcePath}`);
  // Invalid UTF-8 is refused with its position; valid JSON is canonicalized from the bytes.
  if (!isUtf8(content)) decodeUtf8(content, sourcePath);
  const bytes = sourcePath.endsWith('.json')
    ? await asBuildErrorAsync(() => canonicalJsonBytes(content, sourcePath, slice), sourcePath)
    : Buffer.from(await asBuildErrorAsync(async () => canonicalJsonFromValue(parseYamlData(decodeUtf8(content, sourcePath), sourcePath)), sourcePath), 'utf8');
  const dir = directoryOf(sourcePath);
  if (dir === '' && bytes[0] !== 0x7b) {
    const at = dataKeyPosition(sourcePath, decodeUtf8(content, sourcePath), []);
    throw new BuildError('invalid_data', `${sourcePath}${at ? `:${at.line}:${at.column}` : ''}: data at the repository root must be an object (it is mounted at data itself)`, { file: sourcePath, line: at?.line ?? 1, column: at?.column });
  }
  const file: PreparedPolicyFile = {
    sourcePath,
    bundlePath: dir === '' ? 'data.json' : `${dir}/data.json`,
    kind,
    content: bytes,
    sha256: await sha256HexAsync(bytes),
  };
  // Parsed on first use: only data placed above a bundle's roots needs its value checked, and parsing
  // megabytes at once would hold the event loop.
  let parsed: { value: unknown } | undefined;
  Object.defineProperty(file, 'data', { enumerable: true, get: () => (parsed ??= { value: JSON.parse(bytes.toString('utf8')) as unknown }).value });
  return file;
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function decodeUtf8(content: Buffer, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch (error) {
    const at = firstInvalidUtf8Position(content);
    throw new BuildError('invalid_encoding', `${file}${at ? `:${at.line}:${at.column}` : ''} is not valid UTF-8`, { file, line: at?.line, column: at?.column }, { cause: error });
  }
}

/** Data that cannot be read makes the revision unbuildable: same code and position, as a BuildError naming the file. */
async function asBuildErrorAsync<T>(run: () => Promise<T>, file: string): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof InputError) throw new BuildError(error.code, error.message.startsWith(file) ? error.message : `${file}: ${error.message}`, { file, ...error.details }, { cause: error });
    throw error;
  }
}
