import { BuildError } from '../errors.js';
import { MANIFEST_PATH, SIGNATURES_PATH, type BundleFile } from './bundle.js';
import { findDataOutsideRoots, parseJsonData, parseYamlData, type JsonValue } from './canonical-json.js';
import { regoPackage } from './rego-package.js';

/** What a bundle holds, as an agent would load it. */
export interface BundleLayout {
  /** The manifest's `revision` ('' without a manifest). */
  revision: string;
  /** The manifest's `roots` (OPA's default, `['']` = all of data, without one). */
  roots: string[];
  /** Rego modules and their packages (dotted). */
  modules: Array<{ path: string; package: string }>;
  /** `data.json` / `data.yaml` files. */
  dataFiles: string[];
  /** Files OPA does not load (kept in the archive, ignored by the agent). */
  otherFiles: string[];
  /** The manifest's other fields (`rego_version`, `metadata`), as given. */
  manifest: Record<string, unknown>;
}

function isDataFile(path: string): boolean {
  return /(^|\/)data\.(json|ya?ml)$/.test(path);
}

function plain(value: JsonValue): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, child]) => [key, plain(child)]));
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Number(value.text);
  return value;
}

function readManifest(content: Buffer): { revision: string; roots: string[]; manifest: Record<string, unknown> } {
  let value: JsonValue;
  try {
    value = parseJsonData(content, MANIFEST_PATH);
  } catch (error) {
    throw new BuildError('manifest_invalid', `${MANIFEST_PATH} is not JSON: ${(error as Error).message}`, { file: MANIFEST_PATH }, { cause: error });
  }
  if (!(value instanceof Map)) throw new BuildError('manifest_invalid', `${MANIFEST_PATH} must be a JSON object`, { file: MANIFEST_PATH });
  const manifest = plain(value) as Record<string, unknown>;
  const { revision = '', roots } = manifest;
  if (typeof revision !== 'string') throw new BuildError('manifest_invalid', `${MANIFEST_PATH}: revision must be a string`, { file: MANIFEST_PATH, field: 'revision' });
  if (roots !== undefined && (!Array.isArray(roots) || roots.some((root) => typeof root !== 'string'))) {
    throw new BuildError('manifest_invalid', `${MANIFEST_PATH}: roots must be a list of strings`, { file: MANIFEST_PATH, field: 'roots' });
  }
  return { revision, roots: (roots as string[] | undefined) ?? [''], manifest };
}

function underRoot(path: readonly string[], roots: readonly string[]): boolean {
  return roots.some((root) => {
    const segments = root.replace(/^\/+|\/+$/g, '').split('/').filter((segment) => segment !== '');
    return segments.length <= path.length && segments.every((segment, index) => segment === path[index]);
  });
}

/**
 * Checks what an agent checks when it reads a bundle, beyond the signature (opa:v1/bundle/bundle.go
 * `Read`): the manifest parses, every module's package and every data file's data sit under the
 * manifest's roots. Errors are `BuildError`s naming the file: `manifest_invalid`, `invalid_rego`,
 * `package_outside_roots`, `invalid_data`, `data_outside_roots`.
 */
export function checkBundleLayout(files: readonly BundleFile[]): BundleLayout {
  const manifestFile = files.find((file) => file.path === MANIFEST_PATH);
  const { revision, roots, manifest } = manifestFile ? readManifest(manifestFile.content) : { revision: '', roots: [''], manifest: {} };
  const layout: BundleLayout = { revision, roots, modules: [], dataFiles: [], otherFiles: [], manifest };
  for (const file of files) {
    if (file.path === MANIFEST_PATH || file.path === SIGNATURES_PATH) continue;
    if (file.path.endsWith('.rego')) {
      const pkg = regoPackage(file.content.toString('utf8'), file.path);
      if (!underRoot(pkg.path, roots)) {
        throw new BuildError('package_outside_roots', `${file.path}: manifest roots [${roots.join(', ')}] do not permit 'package ${pkg.path.join('.')}'`, { file: file.path, line: pkg.line, column: pkg.column });
      }
      layout.modules.push({ path: file.path, package: pkg.path.join('.') });
    } else if (isDataFile(file.path)) {
      let value: unknown;
      try {
        value = file.path.endsWith('.json') ? parseJsonData(file.content, file.path) : parseYamlData(file.content.toString('utf8'), file.path);
      } catch (error) {
        throw new BuildError('invalid_data', `${file.path}: ${(error as Error).message}`, { file: file.path }, { cause: error });
      }
      const directory = file.path.split('/').slice(0, -1);
      const outside = findDataOutsideRoots(value, directory, roots);
      if (outside !== undefined) throw new BuildError('data_outside_roots', `${file.path}: manifest roots [${roots.join(', ')}] do not permit data at path '${outside}'`, { file: file.path });
      layout.dataFiles.push(file.path);
    } else {
      layout.otherFiles.push(file.path);
    }
  }
  return layout;
}
