// One place for the tools the project builds from source (OPA, and later Gitea, the S3 gateway, the OCI
// registry): each is built once per machine into ~/.cache/regent/tools/<name>-<version>/ (REGENT_TOOLS_CACHE
// moves it) and hard-linked into the git-ignored .tools/bin of the checkout, so fresh clones and CI reuse it.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
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

/**
 * Puts `target` at .tools/bin/<linkName> as a hard link (a copy when the cache is on another file system),
 * replacing an older link or file. A real file rather than a symlink, so tools that look for the binary
 * with `find -type f` (which does not follow symlinks) see it.
 */
export function linkIntoToolsBin(linkName, target) {
  mkdirSync(toolsBin, { recursive: true });
  const link = join(toolsBin, linkName);
  if (isLinkOf(link, target)) return link;
  linkOrCopy(target, link);
  return link;
}

/** True when `path` is a regular file that is `target` itself (the same inode). */
export function isLinkOf(path, target) {
  try {
    const [a, b] = [lstatSync(path), statSync(target)];
    return a.isFile() && a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** Hard-links `from` at `to` (a copy across file systems, keeping the mode), replacing what was there. */
export function linkOrCopy(from, to) {
  rmSync(to, { force: true, recursive: true });
  try {
    linkSync(from, to);
  } catch (error) {
    if (error.code !== 'EXDEV' && error.code !== 'EPERM') throw error;
    copyFileSync(from, to);
    chmodSync(to, statSync(from).mode & 0o777);
  }
}

/** Recreates the tree `from` at `to` with real folders and hard-linked (or copied) files. */
export function mirrorTree(from, to) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) mirrorTree(source, target);
    else if (entry.isFile()) linkOrCopy(source, target);
  }
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
