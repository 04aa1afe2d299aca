// One place for the tools the project builds from source (OPA, and later Gitea, the S3 gateway, the OCI
// registry): each is built once per machine into ~/.cache/regent/tools/<name>-<version>/ (REGENT_TOOLS_CACHE
// moves it) and linked into the git-ignored .tools/bin of the checkout, so fresh clones and CI reuse it.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const toolsBin = join(projectRoot, '.tools', 'bin');

/** The per-machine cache folder of one tool version. */
export function cacheDirFor(name, version) {
  const base = process.env.REGENT_TOOLS_CACHE ?? join(homedir(), '.cache', 'regent', 'tools');
  return join(base, `${name}-${version}`);
}

/** Points .tools/bin/<linkName> at `target` (replacing an older link or file). */
export function linkIntoToolsBin(linkName, target) {
  mkdirSync(toolsBin, { recursive: true });
  const link = join(toolsBin, linkName);
  let current;
  try {
    const stat = lstatSync(link);
    current = stat.isSymbolicLink() ? readlinkSync(link) : '';
  } catch {
    current = undefined;
  }
  if (current === target) return link;
  if (current !== undefined) rmSync(link, { force: true, recursive: true });
  symlinkSync(target, link);
  return link;
}

/**
 * `go install <module>@<version>` into a temp folder beside the cache, then renamed into place, so an
 * interrupted build never leaves a half-written tool in the cache. Returns the installed binary's path.
 */
export function goInstall({ name, version, module, binary, env = {} }) {
  const dir = cacheDirFor(name, version);
  const target = join(dir, binary);
  if (existsSync(target)) return target;
  requireGo(name);
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const attempt = (extra) =>
    spawnSync('go', ['install', `${module}@${version.startsWith('v') ? version : `v${version}`}`], {
      cwd: staging,
      env: { ...process.env, GOBIN: staging, GOFLAGS: '-mod=mod', ...env, ...extra },
      stdio: ['ignore', 'inherit', 'inherit'],
    }).status === 0;
  if (!attempt({}) && !attempt({ CGO_ENABLED: '0' })) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`go install ${module}@${version} failed`);
  }
  if (!existsSync(join(staging, binary))) throw new Error(`go install ${module}@${version} produced no ${binary}`);
  mkdirSync(dirname(dir), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return target;
}

export function requireGo(forWhat) {
  const go = spawnSync('go', ['version'], { stdio: 'ignore' });
  if (go.status !== 0) throw new Error(`${forWhat} must be built with Go, and 'go' is not installed. Install Go (https://go.dev/dl/) or put the tool on PATH.`);
}
