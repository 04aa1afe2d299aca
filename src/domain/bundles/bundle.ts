/**
 * OPA's words for OPA's things: a bundle is a set of files plus a `.manifest`, shipped as a tar.gz with
 * a `.signatures.json`. Paths here never carry the leading `/` that tar entry names get.
 */

/** One file of a bundle: `path` relative to the bundle root, e.g. `rbac/policy.rego`. */
export interface BundleFile {
  path: string;
  content: Buffer;
}

/** The `.manifest` Regent writes (field names as in OPA's `bundle.Manifest`). */
export interface Manifest {
  revision: string;
  roots: string[];
  rego_version: number;
  metadata?: Record<string, unknown>;
}

export const MANIFEST_PATH = '.manifest';
export const SIGNATURES_PATH = '.signatures.json';
