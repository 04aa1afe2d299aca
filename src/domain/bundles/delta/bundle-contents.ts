import type { Manifest } from '../bundle.js';

/** A data file as shipped: canonical JSON, and the SHA-256 of those bytes. */
export interface ShippedData {
  sha256: string;
  content: Buffer;
}

/**
 * What a built bundle holds, kept beside its tarball so a later revision's bundle can be compared with
 * it: the manifest, every module by bundle path with its digest, and every data file's canonical bytes
 * (the same buffers the builder caches, so an unchanged file costs nothing to keep).
 */
export interface BundleContents {
  manifest: Manifest;
  modules: ReadonlyMap<string, string>;
  data: ReadonlyMap<string, ShippedData>;
}

export function bundleContents(manifest: Manifest, files: ReadonlyArray<{ bundlePath: string; kind: 'module' | 'data'; sha256: string; content: Buffer }>): BundleContents {
  const modules = new Map<string, string>();
  const data = new Map<string, ShippedData>();
  for (const file of files) {
    if (file.kind === 'data') data.set(file.bundlePath, { sha256: file.sha256, content: file.content });
    else modules.set(file.bundlePath, file.sha256);
  }
  return { manifest, modules, data };
}
