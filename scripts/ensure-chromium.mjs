#!/usr/bin/env node
// Makes sure a Chromium is there for the web view's browser tests (test/browser/), the way ensure-opa.mjs
// does for OPA: REGENT_CHROMIUM if set, else /usr/bin/chromium, else `chromium` on PATH; when none is
// found, Debian's package is installed (`apt-get install -y chromium`) if this runs as root with apt;
// otherwise it stops with a message saying what to install. Prints the path it settled on.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function versionOf(path) {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

function onPath(name) {
  const out = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

/** The Chromium to use, installing Debian's when allowed; throws with what to do otherwise. */
export function ensureChromium() {
  const wanted = process.env.REGENT_CHROMIUM;
  if (wanted) {
    if (executable(wanted) && versionOf(wanted)) return wanted;
    throw new Error(`REGENT_CHROMIUM=${wanted} is not a Chromium that runs (${wanted} --version failed). Point it at a Chromium, or unset it to use ${DEFAULT_CHROMIUM}.`);
  }
  for (const candidate of [DEFAULT_CHROMIUM, onPath('chromium')]) {
    if (candidate && executable(candidate) && versionOf(candidate)) return candidate;
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && onPath('apt-get')) {
    console.log('ensure-chromium: installing Debian\'s chromium (apt-get install -y chromium)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
    if (install.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
      install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
    }
    if (install.status === 0 && executable(DEFAULT_CHROMIUM) && versionOf(DEFAULT_CHROMIUM)) return DEFAULT_CHROMIUM;
    throw new Error('apt-get install chromium failed (see above). Install Debian\'s chromium package, or set REGENT_CHROMIUM to a Chromium executable.');
  }
  throw new Error(`no Chromium found at ${DEFAULT_CHROMIUM} or on PATH. The web view's browser tests need one: install Debian's package as root (apt-get install -y chromium), or set REGENT_CHROMIUM to a Chromium executable.`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const path = ensureChromium();
    console.log(`ensure-chromium: using ${path} (${versionOf(path)})`);
  } catch (error) {
    console.error(`ensure-chromium: ${error.message}`);
    process.exit(1);
  }
}
