#!/usr/bin/env node
// Makes sure the pinned OPA release is available for the tests: `opa` on PATH at the pinned version,
// else `go install github.com/open-policy-agent/opa@<version>` into the git-ignored .tools/bin.
// Prints the path it settled on; exits non-zero with a clear message when it cannot.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const OPA_VERSION = '1.22.2';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolsBin = join(root, '.tools', 'bin');
const localOpa = join(toolsBin, 'opa');

function versionOf(binary) {
  const out = spawnSync(binary, ['version'], { encoding: 'utf8' });
  if (out.status !== 0) return undefined;
  return /^Version:\s*(\S+)/m.exec(out.stdout)?.[1];
}

function install(env) {
  mkdirSync(toolsBin, { recursive: true });
  const result = spawnSync('go', ['install', `github.com/open-policy-agent/opa@v${OPA_VERSION}`], {
    cwd: root,
    env: { ...process.env, GOBIN: toolsBin, GOFLAGS: '-mod=mod', ...env },
    stdio: 'inherit',
  });
  return result.status === 0;
}

if (versionOf(localOpa) === OPA_VERSION) {
  console.log(`ensure-opa: using ${localOpa} (v${OPA_VERSION})`);
  process.exit(0);
}
const onPath = spawnSync('sh', ['-c', 'command -v opa'], { encoding: 'utf8' }).stdout.trim();
if (onPath && versionOf(onPath) === OPA_VERSION) {
  console.log(`ensure-opa: using ${onPath} from PATH (v${OPA_VERSION})`);
  process.exit(0);
}
try {
  execFileSync('go', ['version'], { stdio: 'ignore' });
} catch {
  console.error(`ensure-opa: OPA v${OPA_VERSION} is not on PATH and Go is not installed to build it. Install Go or put opa v${OPA_VERSION} on PATH.`);
  process.exit(1);
}
console.log(`ensure-opa: installing OPA v${OPA_VERSION} into ${toolsBin} with go install (a few minutes on first run)`);
if (!install({}) && !install({ CGO_ENABLED: '0' })) {
  console.error(`ensure-opa: go install github.com/open-policy-agent/opa@v${OPA_VERSION} failed`);
  process.exit(1);
}
if (!existsSync(localOpa) || versionOf(localOpa) !== OPA_VERSION) {
  console.error(`ensure-opa: ${localOpa} is not OPA v${OPA_VERSION} after installing`);
  process.exit(1);
}
console.log(`ensure-opa: installed ${localOpa}`);
