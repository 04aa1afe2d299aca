import { createHash } from 'node:crypto';
import { BuildError, InputError } from '../errors.js';
import { canonicalJsonFromText, canonicalJsonFromValue, parseYamlData } from './canonical-json.js';
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
  /** Filled lazily by the builder: this file's tar entry as one gzip member. */
  compressedEntry?: Buffer;
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
export function preparePolicyFile(sourcePath: string, content: Buffer): PreparedPolicyFile {
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
  const text = decodeUtf8(content, sourcePath);
  const canonical = asBuildError(() => sourcePath.endsWith('.json')
    ? canonicalJsonFromText(text, sourcePath)
    : canonicalJsonFromValue(parseYamlData(text, sourcePath)), sourcePath);
  const bytes = Buffer.from(canonical, 'utf8');
  const dir = directoryOf(sourcePath);
  const data: unknown = JSON.parse(canonical);
  if (dir === '' && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    const at = dataKeyPosition(sourcePath, text, []);
    throw new BuildError('invalid_data', `${sourcePath}${at ? `:${at.line}:${at.column}` : ''}: data at the repository root must be an object (it is mounted at data itself)`, { file: sourcePath, line: at?.line ?? 1, column: at?.column });
  }
  return {
    sourcePath,
    bundlePath: dir === '' ? 'data.json' : `${dir}/data.json`,
    kind,
    content: bytes,
    sha256: sha256Hex(bytes),
    data,
  };
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
function asBuildError<T>(run: () => T, file: string): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof InputError) throw new BuildError(error.code, error.message.startsWith(file) ? error.message : `${file}: ${error.message}`, { file, ...error.details }, { cause: error });
    throw error;
  }
}
