import { isMap, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import { BuildError } from '../errors.js';

/**
 * What `regent.yaml` at the policy repository root declares for one bundle. Bundle definitions are
 * versioned with the policies they describe, so a revision always builds the bundles it declared.
 */
export interface BundleDefinition {
  /** OPA bundle name; served at `/bundles/<name>` (may contain `/`). */
  name: string;
  /** Repository directories whose policies and data the bundle ships (`''` = the whole repository). */
  paths: string[];
  /** Manifest roots: the parts of `data` this bundle owns. */
  roots: string[];
  /** Signing key id; the configured default key when absent. */
  keyId?: string;
  /** Copied into the manifest's `metadata`. */
  metadata?: Record<string, unknown>;
}

export const REGENT_YAML = 'regent.yaml';

/** Without `regent.yaml` there is one bundle, `main`, holding everything and owning all of `data`. */
export const DEFAULT_BUNDLES: readonly BundleDefinition[] = Object.freeze([
  { name: 'main', paths: [''], roots: [''] },
]);

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}(\/[a-z0-9][a-z0-9._-]{0,62}){0,3}$/;
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ALLOWED_KEYS = new Set(['paths', 'roots', 'signing', 'metadata']);

/**
 * Parses `regent.yaml`. Every problem is a `BuildError` (code `invalid_bundle_definition`) naming the
 * file, line and the offending field, because a definition that cannot be read must fail the revision
 * rather than ship something unintended.
 */
export function parseBundleDefinitions(text: string): BundleDefinition[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.2', schema: 'core', uniqueKeys: true, prettyErrors: false, lineCounter });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const line = problem.linePos?.[0]?.line ?? lineCounter.linePos(problem.pos[0]).line;
    fail(`${REGENT_YAML} is not valid YAML: ${problem.message}`, line, undefined);
  }
  let plain: { bundles?: Record<string, Record<string, unknown>> };
  try {
    plain = doc.toJS({ maxAliasCount: 0 }) as typeof plain;
  } catch (error) {
    fail(`${REGENT_YAML} cannot be read: ${(error as Error).message}`, undefined, undefined);
  }
  const lineOf = (node: Node | null | undefined): number | undefined =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;

  const root = doc.contents;
  if (!isMap(root)) fail(`${REGENT_YAML} must be a mapping with a 'bundles' key`, lineOf(root as Node), undefined);
  const bundlesPair = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'bundles');
  for (const pair of root.items) {
    if (!(isScalar(pair.key) && pair.key.value === 'bundles')) {
      fail(`unknown key '${String((pair.key as { value?: unknown })?.value)}' in ${REGENT_YAML}`, lineOf(pair.key as Node), 'bundles');
    }
  }
  const bundlesNode = bundlesPair?.value as Node | undefined;
  if (!isMap(bundlesNode) || bundlesNode.items.length === 0) {
    fail(`'bundles' must map bundle names to their definitions`, lineOf(bundlesNode ?? (root as Node)), 'bundles');
  }

  const definitions: BundleDefinition[] = [];
  for (const pair of bundlesNode.items) {
    const keyNode = pair.key as Node;
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    if (!NAME.test(name)) {
      fail(`bundle name '${name}' is invalid (lower-case letters, digits, '.', '_', '-', up to 4 '/'-separated segments)`, lineOf(keyNode), 'bundles');
    }
    const body = pair.value as Node | null;
    if (!isMap(body)) fail(`bundle '${name}' must be a mapping with 'roots'`, lineOf(body ?? keyNode), `bundles.${name}`);
    const value = plain.bundles?.[name] ?? {};
    for (const key of Object.keys(value)) {
      if (!ALLOWED_KEYS.has(key)) fail(`unknown key '${key}' in bundle '${name}'`, lineOf(body), `bundles.${name}.${key}`);
    }
    const roots = stringList(value.roots, `bundles.${name}.roots`, lineOf(body)).map((root) => normalizeDir(root, `bundles.${name}.roots`, lineOf(body)));
    if (roots.length === 0) fail(`bundle '${name}' needs at least one root`, lineOf(body), `bundles.${name}.roots`);
    const paths = value.paths === undefined
      ? roots
      : stringList(value.paths, `bundles.${name}.paths`, lineOf(body)).map((path) => normalizeDir(path, `bundles.${name}.paths`, lineOf(body)));
    const definition: BundleDefinition = { name, paths, roots };
    const signing = value.signing;
    if (signing !== undefined) {
      const keyId = (signing as { keyid?: unknown } | null)?.keyid;
      if (typeof keyId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(keyId)) {
        fail(`bundle '${name}' signing.keyid must be a key id`, lineOf(body), `bundles.${name}.signing.keyid`);
      }
      definition.keyId = keyId;
    }
    if (value.metadata !== undefined) {
      if (typeof value.metadata !== 'object' || value.metadata === null || Array.isArray(value.metadata)) {
        fail(`bundle '${name}' metadata must be a mapping`, lineOf(body), `bundles.${name}.metadata`);
      }
      definition.metadata = value.metadata as Record<string, unknown>;
    }
    definitions.push(definition);
  }
  return definitions;
}

function stringList(value: unknown, field: string, line: number | undefined): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    fail(`'${field}' must be a list of strings`, line, field);
  }
  return value as string[];
}

/** `a/b/` → `a/b`; `''` and `/` mean everything. Segments are validated; `..` and `.` are refused. */
function normalizeDir(raw: string, field: string, line: number | undefined): string {
  const trimmed = raw.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  for (const segment of trimmed.split('/')) {
    if (!SEGMENT.test(segment) || segment === '..' || segment === '.') {
      fail(`'${raw}' in '${field}' is not a valid path (segments of letters, digits, '_', '.', '-')`, line, field);
    }
  }
  return trimmed;
}

function fail(message: string, line: number | undefined, field: string | undefined): never {
  throw new BuildError('invalid_bundle_definition', message, { file: REGENT_YAML, line, field });
}

/** Used by the builder: is `path` inside directory `dir` (`''` contains everything)? */
export function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

/** Two roots overlap when one is a prefix (on segment boundaries) of the other. */
export function rootsOverlap(a: string, b: string): boolean {
  return isUnder(a, b) || isUnder(b, a);
}

