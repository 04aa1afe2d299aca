import { SPEC_SUFFIX } from '../bundles/policy-file.js';

/** A package as data path segments, or why it cannot be one. */
export type PackageOutcome = { path: string[] } | { code: 'invalid_policy_spec' | 'package_outside_directory'; message: string };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYWORDS = new Set(['as', 'contains', 'default', 'else', 'every', 'false', 'if', 'import', 'in', 'not', 'null', 'package', 'some', 'true', 'with']);

/** The path of the module a spec compiles to: `a/b/c.policy.yaml` → `a/b/c.policy.rego`, next to it. */
export function compiledPathOf(source: string): string {
  return `${source.slice(0, -SPEC_SUFFIX.length)}.policy.rego`;
}

/** The package a spec gets from where it is stored: `a/b/c.policy.yaml` → `a.b.c`. */
export function packageOfPath(source: string): PackageOutcome {
  const path = source.slice(0, -SPEC_SUFFIX.length).split('/');
  if (!IDENTIFIER.test(path[0]!)) {
    return { code: 'invalid_policy_spec', message: `the package would start with '${path[0]}', which is not a Rego name (letters, digits and '_', not starting with a digit): store the spec under another directory` };
  }
  return { path };
}

/** A spec's own `package: a.b.c`: dotted Rego names, under the spec's directory (so a team only writes its own packages). */
export function parsePackage(text: string, source: string): PackageOutcome {
  const path = text.split('.');
  if (path.some((segment) => !IDENTIFIER.test(segment))) {
    return { code: 'invalid_policy_spec', message: `package '${text.slice(0, 200)}' must be dotted Rego names (letters, digits and '_', not starting with a digit), such as 'a.b.c'` };
  }
  const dir = source.includes('/') ? source.slice(0, source.lastIndexOf('/')).split('/') : [];
  if (!dir.every((segment, index) => path[index] === segment)) {
    return { code: 'package_outside_directory', message: `package '${text}' must sit under the spec's directory '${dir.join('/')}' (expected '${dir.join('.')}' or below)` };
  }
  return { path };
}

/** The package as Rego writes it: `a.b.c`, with `["..."]` for segments that are not plain names. */
export function regoPackageRef(path: readonly string[]): string {
  return path.map((segment, index) => (index === 0 ? segment : IDENTIFIER.test(segment) && !KEYWORDS.has(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`)).join('');
}

/** A reference to an attribute of `input.subject`: `input.subject.department`, or `input.subject["if"]` for keywords. */
export function subjectAttributeRef(attribute: string): string {
  return IDENTIFIER.test(attribute) && !KEYWORDS.has(attribute) ? `input.subject.${attribute}` : `input.subject[${JSON.stringify(attribute)}]`;
}
