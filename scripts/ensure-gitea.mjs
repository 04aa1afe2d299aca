#!/usr/bin/env node
// Makes sure the pinned Gitea is available for the self-hosted-Git tests: built once per machine from the
// released module source into the tools cache (scripts/lib/tool-cache.mjs), then mirrored into the git-ignored
// .tools/ of the checkout. Prints the path it settled on; exits non-zero with a clear message when it cannot.
//
// Gitea's module carries replace directives, so `go install` refuses it: the source is downloaded with
// `go mod download`, copied out of the read-only module cache and built there with `go build`. No bindata:
// Gitea runs with STATIC_ROOT_PATH at the source (templates/, options/, public/), which is kept beside the binary.
//
// Cache layout: <cache>/gitea-<version>/{gitea, src/}. Checkout layout: .tools/gitea/{gitea, templates/, options/,
// public/} as hard links into the cache (a copy when the cache is on another file system), and .tools/bin/gitea.
// Real files rather than symlinks, so `find .tools -type f -name gitea` and `find .tools -type d -name locale`
// see them (find does not follow symlinks).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheDirFor, linkIntoToolsBin, linkOrCopy, mirrorTree, projectRoot, requireGo } from './lib/tool-cache.mjs';

export const GITEA_VERSION = '1.27.3';
const MODULE = 'code.gitea.io/gitea';
const BUILD_TAGS = 'sqlite sqlite_unlock_notify';
/** What Gitea reads from STATIC_ROOT_PATH when it is built without bindata. */
const STATIC_PARTS = ['templates', 'options', 'public'];

export const giteaToolsDir = join(projectRoot, '.tools', 'gitea');

export function giteaVersionOf(binary) {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (out.status !== 0) return undefined;
  return /gitea version (\S+)/i.exec(out.stdout)?.[1];
}

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  return result;
}

/**
 * `GOTOOLCHAIN` for the module's `toolchain` (else `go`) line when the local Go is older; the Go module proxy
 * serves newer toolchains. Empty when the local one will do.
 */
function toolchainFor(sourceDir) {
  const goMod = readFileSync(join(sourceDir, 'go.mod'), 'utf8');
  const wanted = /^toolchain\s+go(\S+)/m.exec(goMod)?.[1] ?? /^go\s+(\S+)/m.exec(goMod)?.[1];
  const local = /go version go(\S+)/.exec(spawnSync('go', ['version'], { encoding: 'utf8' }).stdout ?? '')?.[1];
  if (!wanted || !local) return {};
  const parts = (v) => v.split(/[.a-z]/).slice(0, 3).map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [parts(wanted), parts(local)];
  const newer = a.findIndex((n, i) => n !== (b[i] ?? 0));
  return newer >= 0 && a[newer] > (b[newer] ?? 0) ? { GOTOOLCHAIN: `go${wanted}` } : {};
}

/** Builds Gitea `version` into the tools cache unless it is there; returns the cache folder. */
export function buildGiteaIntoCache(version = GITEA_VERSION) {
  const dir = cacheDirFor('gitea', version);
  if (giteaVersionOf(join(dir, 'gitea')) === version && existsSync(join(dir, 'src', 'options', 'locale'))) return dir;
  requireGo('Gitea');
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const download = run('go', ['mod', 'download', '-json', `${MODULE}@v${version}`], {
      cwd: staging,
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    const moduleDir = JSON.parse(download.stdout).Dir;
    if (!moduleDir || !existsSync(moduleDir)) throw new Error(`go mod download gave no source folder for ${MODULE}@v${version}`);
    const source = join(staging, 'src');
    cpSync(moduleDir, source, { recursive: true });
    run('chmod', ['-R', 'u+w', source]);
    const ldflags = `-s -w -X "main.Version=${version}" -X "main.Tags=${BUILD_TAGS}"`;
    run('go', ['build', '-trimpath', '-tags', BUILD_TAGS, '-ldflags', ldflags, '-o', join(staging, 'gitea'), '.'], {
      cwd: source,
      env: { ...process.env, GOFLAGS: '-mod=mod', ...toolchainFor(source) },
    });
    if (giteaVersionOf(join(staging, 'gitea')) !== version) throw new Error(`the build did not produce Gitea ${version}`);
    mkdirSync(dirname(dir), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return dir;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Builds (or finds) Gitea and mirrors it into .tools/gitea and .tools/bin/gitea; returns the binary's path. */
export function ensureGitea(version = GITEA_VERSION) {
  const local = join(giteaToolsDir, 'gitea');
  const ready = () =>
    giteaVersionOf(local) === version && STATIC_PARTS.every((part) => existsSync(join(giteaToolsDir, part)));
  if (ready()) return local;
  const cache = buildGiteaIntoCache(version);
  const staging = `${giteaToolsDir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  linkOrCopy(join(cache, 'gitea'), join(staging, 'gitea'));
  for (const part of STATIC_PARTS) mirrorTree(join(cache, 'src', part), join(staging, part));
  rmSync(giteaToolsDir, { recursive: true, force: true });
  renameSync(staging, giteaToolsDir);
  linkIntoToolsBin('gitea', join(cache, 'gitea'));
  if (!ready()) throw new Error(`${local} is not Gitea ${version}`);
  return local;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    console.log(`ensure-gitea: using ${ensureGitea()} (v${GITEA_VERSION})`);
  } catch (error) {
    console.error(`ensure-gitea: ${error.message}`);
    process.exit(1);
  }
}
