#!/usr/bin/env node
// Makes sure the pinned OPA release is available: `opa` on PATH at the pinned version, else the one built
// once per machine by `go install github.com/open-policy-agent/opa@<version>` into the tools cache
// (scripts/lib/tool-cache.mjs), hard-linked into the git-ignored .tools/bin. Prints the path it settled on;
// exits non-zero with a clear message when it cannot.
import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { goInstall, linkIntoToolsBin, toolsBin } from './lib/tool-cache.mjs';

export const OPA_VERSION = '1.22.2';

export function opaVersionOf(binary) {
  const out = spawnSync(binary, ['version'], { encoding: 'utf8' });
  if (out.status !== 0) return undefined;
  return /^Version:\s*(\S+)/m.exec(out.stdout)?.[1];
}

/** Installs (or finds) OPA `version` and links it as .tools/bin/<linkName>; returns the link's path. */
export function ensureOpa(version = OPA_VERSION, linkName = 'opa') {
  const local = join(toolsBin, linkName);
  // An older checkout may hold a symlink here: replaced by a real file (see linkIntoToolsBin).
  if (opaVersionOf(local) === version && !lstatSync(local).isSymbolicLink()) return local;
  const built = goInstall({ name: 'opa', version, module: 'github.com/open-policy-agent/opa', binary: 'opa' });
  if (opaVersionOf(built) !== version) throw new Error(`${built} is not OPA v${version}`);
  return linkIntoToolsBin(linkName, built);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    // `--also 1.0.0`: another release beside the pinned one, as .tools/bin/opa-1.0.0 (the tests' fleet floor).
    const also = process.argv.indexOf('--also');
    if (also >= 0) {
      const version = process.argv[also + 1] ?? '';
      if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`--also needs a version such as 1.0.0, got '${version}'`);
      console.log(`ensure-opa: using ${ensureOpa(version, `opa-${version}`)} (v${version})`);
    }
    const onPath = spawnSync('sh', ['-c', 'command -v opa'], { encoding: 'utf8' }).stdout.trim();
    if (onPath && opaVersionOf(onPath) === OPA_VERSION && opaVersionOf(join(toolsBin, 'opa')) !== OPA_VERSION) {
      console.log(`ensure-opa: using ${onPath} from PATH (v${OPA_VERSION})`);
    } else {
      console.log(`ensure-opa: using ${ensureOpa()} (v${OPA_VERSION})`);
    }
  } catch (error) {
    console.error(`ensure-opa: ${error.message}`);
    process.exit(1);
  }
}
