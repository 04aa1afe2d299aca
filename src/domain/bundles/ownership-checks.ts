import { BuildError } from '../errors.js';
import { isUnder, REGENT_YAML, rootsOverlap, type BundleDefinition } from './bundle-definition.js';
import { directoryOf, type PreparedPolicyFile } from './policy-file.js';

/**
 * The ownership rules OPA enforces at activation, checked at build time so a bad revision fails here,
 * with the file named, instead of on every agent: roots must not overlap (within a bundle or across
 * bundles), modules' packages and data must sit under the bundle's roots. Plus Regent's own rule: a
 * module's package sits under the directory it is stored in, so one team cannot add rules to another's.
 */
export function checkRootsDisjoint(definitions: readonly BundleDefinition[]): void {
  for (let i = 0; i < definitions.length; i++) {
    const a = definitions[i]!;
    for (let x = 0; x < a.roots.length; x++) {
      for (let y = x + 1; y < a.roots.length; y++) {
        if (rootsOverlap(a.roots[x]!, a.roots[y]!)) {
          throw new BuildError('roots_overlap', `bundle '${a.name}' has overlapping roots '${a.roots[x]}' and '${a.roots[y]}'`, { ...definitionPosition(a), field: `bundles.${a.name}.roots` });
        }
      }
    }
    for (let j = i + 1; j < definitions.length; j++) {
      const b = definitions[j]!;
      for (const ra of a.roots) {
        for (const rb of b.roots) {
          if (rootsOverlap(ra, rb)) {
            throw new BuildError('roots_overlap', `roots of bundles '${a.name}' ('${ra || '<all of data>'}') and '${b.name}' ('${rb || '<all of data>'}') overlap: OPA refuses to activate both`, { ...definitionPosition(b), field: `bundles.${b.name}.roots` });
          }
        }
      }
    }
  }
}

/** Where a bundle is declared: `regent.yaml` with the line and column of its name (nothing for the default bundle). */
export function definitionPosition(definition: BundleDefinition): { file?: string; line?: number; column?: number } {
  return definition.line === undefined ? {} : { file: REGENT_YAML, line: definition.line, column: definition.column };
}

export function checkPackageLocation(file: PreparedPolicyFile): void {
  const pkg = file.packagePath!.join('/');
  const dir = directoryOf(file.sourcePath);
  if (!isUnder(pkg, dir)) {
    throw new BuildError('package_outside_directory', `${file.sourcePath}: package '${file.packagePath!.join('.')}' must sit under its directory '${dir}' (expected 'package ${dir.split('/').join('.')}' or below)`, { file: file.sourcePath, ...file.packageAt });
  }
}

export function checkFileUnderRoots(file: PreparedPolicyFile, definition: BundleDefinition): void {
  const roots = definition.roots;
  if (file.kind === 'module') {
    const pkg = file.packagePath!.join('/');
    if (!roots.some((root) => isUnder(pkg, root))) {
      throw new BuildError('package_outside_roots', `${file.sourcePath}: manifest roots [${roots.join(', ')}] of bundle '${definition.name}' do not permit 'package ${file.packagePath!.join('.')}'`, { file: file.sourcePath, ...file.packageAt, bundle: definition.name });
    }
    return;
  }
  const dir = directoryOf(file.sourcePath);
  // Data placed inside a root is allowed whatever it holds: its value is not read (parsing megabytes costs).
  if (roots.some((root) => isUnder(dir, root))) return;
  walkData(dir === '' ? [] : dir.split('/'), file.data, roots, file, definition);
}

function walkData(segments: string[], value: unknown, roots: readonly string[], file: PreparedPolicyFile, definition: BundleDefinition): void {
  const path = segments.join('/');
  if (roots.some((root) => isUnder(path, root))) return;
  const isPrefixOfRoot = roots.some((root) => path === '' || root.startsWith(`${path}/`));
  if (isPrefixOfRoot && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) walkData([...segments, key], child, roots, file, definition);
    return;
  }
  throw new BuildError('data_outside_roots', `${file.sourcePath}: manifest roots [${roots.join(', ')}] of bundle '${definition.name}' do not permit data at path '/${path}' (hint: check the data file's directory and keys)`, { file: file.sourcePath, bundle: definition.name, dataPath: `/${path}` });
}
