#!/usr/bin/env node
// Makes sure the pinned CNCF distribution registry is available for the OCI publishing tests and benchmark:
// built once per machine with `go install github.com/distribution/distribution/v3/cmd/registry@<version>` into
// the tools cache (scripts/lib/tool-cache.mjs), hard-linked into the git-ignored .tools/bin as `registry`. The
// tests run it on 127.0.0.1 with a config file and filesystem storage in a temp folder. Prints the path it
// settled on; exits non-zero with a clear message when it cannot.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { goInstall, isLinkOf, linkIntoToolsBin, toolsBin } from './lib/tool-cache.mjs';

export const REGISTRY_VERSION = '3.1.2';
const MODULE = 'github.com/distribution/distribution/v3/cmd/registry';

/** The version `registry --version` prints (`... v3.1.2+unknown`), or undefined when it does not run. */
export function registryVersionOf(binary) {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (out.status !== 0) return undefined;
  return /\sv(\d+\.\d+\.\d+)/.exec(out.stdout)?.[1];
}

/** Installs (or finds) the registry and links it as .tools/bin/registry; returns the link's path. */
export function ensureRegistry(version = REGISTRY_VERSION) {
  const built = goInstall({ name: 'registry', version, module: MODULE, binary: 'registry' });
  if (registryVersionOf(built) !== version) throw new Error(`${built} is not the distribution registry v${version}`);
  const local = join(toolsBin, 'registry');
  return isLinkOf(local, built) ? local : linkIntoToolsBin('registry', built);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    console.log(`ensure-registry: using ${ensureRegistry()} (v${REGISTRY_VERSION})`);
  } catch (error) {
    console.error(`ensure-registry: ${error.message}`);
    process.exit(1);
  }
}
