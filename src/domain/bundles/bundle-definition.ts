import { isMap, isScalar, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
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
  /**
   * Serve the bundle even when its paths hold no policy or data file (`allowEmpty: true`). Without it an
   * empty bundle fails the revision (`bundle_empty`): agents would drop every policy under its roots.
   */
  allowEmpty?: boolean;
  /** Line and column of the bundle's name in `regent.yaml` (absent for the default bundle). */
  line?: number;
  column?: number;
}

export const REGENT_YAML = 'regent.yaml';

/** Without `regent.yaml` there is one bundle, `main`, holding everything and owning all of `data`. */
export const DEFAULT_BUNDLES: readonly BundleDefinition[] = Object.freeze([
  { name: 'main', paths: [''], roots: [''] },
]);

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}(\/[a-z0-9][a-z0-9._-]{0,62}){0,3}$/;
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ALLOWED_KEYS = new Set(['paths', 'roots', 'signing', 'metadata', 'allowEmpty']);

/** Where in `regent.yaml` a problem is (1-based). */
interface Position {
  line?: number;
  column?: number;
}

/**
 * Parses `regent.yaml`. Every problem is a `BuildError` (code `invalid_bundle_definition`) naming the
 * file, line, column and the offending field, because a definition that cannot be read must fail the
 * revision rather than ship something unintended.
 */
export function parseBundleDefinitions(text: string): BundleDefinition[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.2', schema: 'core', uniqueKeys: true, prettyErrors: false, lineCounter });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const at = problem.linePos?.[0] ?? lineCounter.linePos(problem.pos[0]);
    fail(`${REGENT_YAML} is not valid YAML: ${problem.message}`, { line: at.line, column: at.col }, undefined);
  }
  let plain: { bundles?: Record<string, Record<string, unknown>> };
  try {
    plain = doc.toJS({ maxAliasCount: 0 }) as typeof plain;
  } catch (error) {
    // An alias: toJS refuses it; point at the first one.
    const alias = /\*[A-Za-z0-9_-]+/.exec(text);
    fail(`${REGENT_YAML} cannot be read: ${(error as Error).message}`, alias ? position(lineCounter, alias.index) : {}, undefined);
  }
  const at = (node: Node | null | undefined): Position => (node?.range ? position(lineCounter, node.range[0]) : {});
  /** The value of `key` in a mapping (its key when the value is empty), else the mapping itself. */
  const atKey = (map: YAMLMap, key: string): Position => {
    const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key);
    return at((pair?.value ?? pair?.key ?? map) as Node);
  };

  const root = doc.contents;
  if (!isMap(root)) fail(`${REGENT_YAML} must be a mapping with a 'bundles' key`, at(root as Node), undefined);
  const bundlesPair = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'bundles');
  for (const pair of root.items) {
    if (!(isScalar(pair.key) && pair.key.value === 'bundles')) {
      fail(`unknown key '${String((pair.key as { value?: unknown })?.value)}' in ${REGENT_YAML}`, at(pair.key as Node), 'bundles');
    }
  }
  const bundlesNode = bundlesPair?.value as Node | undefined;
  if (!isMap(bundlesNode) || bundlesNode.items.length === 0) {
    fail(`'bundles' must map bundle names to their definitions`, at(bundlesNode ?? (root as Node)), 'bundles');
  }

  const definitions: BundleDefinition[] = [];
  for (const pair of bundlesNode.items) {
    const keyNode = pair.key as Node;
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    if (!NAME.test(name)) {
      fail(`bundle name '${name}' is invalid (lower-case letters, digits, '.', '_', '-', up to 4 '/'-separated segments)`, at(keyNode), 'bundles');
    }
    const body = pair.value as Node | null;
    if (!isMap(body)) fail(`bundle '${name}' must be a mapping with 'roots'`, at(body ?? keyNode), `bundles.${name}`);
    const value = plain.bundles?.[name] ?? {};
    for (const item of body.items) {
      const key = isScalar(item.key) ? String(item.key.value) : '';
      if (!ALLOWED_KEYS.has(key)) fail(`unknown key '${key}' in bundle '${name}'`, at(item.key as Node), `bundles.${name}.${key}`);
    }
    const rootsAt = Object.hasOwn(value, 'roots') ? atKey(body, 'roots') : at(keyNode);
    const roots = stringList(value.roots, `bundles.${name}.roots`, rootsAt).map((root) => normalizeDir(root, `bundles.${name}.roots`, rootsAt));
    if (roots.length === 0) fail(`bundle '${name}' needs at least one root`, rootsAt, `bundles.${name}.roots`);
    const pathsAt = atKey(body, 'paths');
    const paths = value.paths === undefined
      ? roots
      : stringList(value.paths, `bundles.${name}.paths`, pathsAt).map((path) => normalizeDir(path, `bundles.${name}.paths`, pathsAt));
    const definition: BundleDefinition = { name, paths, roots, line: at(keyNode).line, column: at(keyNode).column };
    const signing = value.signing;
    if (signing !== undefined) {
      const keyId = (signing as { keyid?: unknown } | null)?.keyid;
      if (typeof keyId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(keyId)) {
        fail(`bundle '${name}' signing.keyid must be a key id`, atKey(body, 'signing'), `bundles.${name}.signing.keyid`);
      }
      definition.keyId = keyId;
    }
    if (value.metadata !== undefined) {
      if (typeof value.metadata !== 'object' || value.metadata === null || Array.isArray(value.metadata)) {
        fail(`bundle '${name}' metadata must be a mapping`, atKey(body, 'metadata'), `bundles.${name}.metadata`);
      }
      definition.metadata = value.metadata as Record<string, unknown>;
    }
    if (value.allowEmpty !== undefined) {
      if (typeof value.allowEmpty !== 'boolean') fail(`bundle '${name}' allowEmpty must be true or false`, atKey(body, 'allowEmpty'), `bundles.${name}.allowEmpty`);
      if (value.allowEmpty) definition.allowEmpty = true;
    }
    definitions.push(definition);
  }
  return definitions;
}

function position(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function stringList(value: unknown, field: string, where: Position): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    fail(`'${field}' must be a list of strings`, where, field);
  }
  return value as string[];
}

/** `a/b/` → `a/b`; `''` and `/` mean everything. Segments are validated; `..` and `.` are refused. */
function normalizeDir(raw: string, field: string, where: Position): string {
  const trimmed = raw.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  for (const segment of trimmed.split('/')) {
    if (!SEGMENT.test(segment) || segment === '..' || segment === '.') {
      fail(`'${raw}' in '${field}' is not a valid path (segments of letters, digits, '_', '.', '-')`, where, field);
    }
  }
  return trimmed;
}

function fail(message: string, where: Position, field: string | undefined): never {
  throw new BuildError('invalid_bundle_definition', message, { file: REGENT_YAML, line: where.line, column: where.column, field });
}

/** Used by the builder: is `path` inside directory `dir` (`''` contains everything)? */
export function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

/** Two roots overlap when one is a prefix (on segment boundaries) of the other. */
export function rootsOverlap(a: string, b: string): boolean {
  return isUnder(a, b) || isUnder(b, a);
}

