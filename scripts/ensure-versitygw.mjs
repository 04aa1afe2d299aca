#!/usr/bin/env node
// Makes sure the pinned Versity S3 gateway (versitygw) is available for the S3 publishing tests and
// benchmark: built once per machine with `go install github.com/versity/versitygw/cmd/versitygw@<version>`
// into the tools cache (scripts/lib/tool-cache.mjs), hard-linked into the git-ignored .tools/bin. The tests
// run it with its posix backend on 127.0.0.1 and a temp folder. Prints the path it settled on; exits
// non-zero with a clear message when it cannot.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { goInstall, isLinkOf, linkIntoToolsBin, toolsBin } from './lib/tool-cache.mjs';

export const VERSITYGW_VERSION = '1.8.0';
const MODULE = 'github.com/versity/versitygw/cmd/versitygw';

/** True when `binary` runs and answers `--version` (the build carries no version string of its own). */
export function versitygwRuns(binary) {
  return spawnSync(binary, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Installs (or finds) versitygw and links it as .tools/bin/versitygw; returns the link's path. */
export function ensureVersitygw(version = VERSITYGW_VERSION) {
  const built = goInstall({ name: 'versitygw', version, module: MODULE, binary: 'versitygw' });
  if (!versitygwRuns(built)) throw new Error(`${built} does not run`);
  const local = join(toolsBin, 'versitygw');
  return isLinkOf(local, built) ? local : linkIntoToolsBin('versitygw', built);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    console.log(`ensure-versitygw: using ${ensureVersitygw()} (v${VERSITYGW_VERSION})`);
  } catch (error) {
    console.error(`ensure-versitygw: ${error.message}`);
    process.exit(1);
  }
}
