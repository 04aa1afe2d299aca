import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { BuildError } from '../errors.js';

/**
 * Reads a bundle tarball back, the way OPA's tarball loader does (opa:v1/bundle/file.go: gzip, then
 * tar, regular files only, names as written), so Regent can verify what it is about to publish and
 * tests can take bundles apart. Stricter than OPA where OPA's behaviour would be a trap: links and
 * devices, duplicate paths, `.`/`..`/empty segments, NUL and backslash are refused instead of skipped
 * or taken literally. Directory entries are skipped, as OPA does.
 *
 * Errors are `BuildError`s: `tarball_invalid` (not gzip, not tar, a refused entry) and
 * `tarball_too_large` (a limit was hit; the decompressed size is capped before inflating further).
 */

export interface TarballEntry {
  /** The tar entry name as written, e.g. `/rbac/policy.rego`. */
  name: string;
  /** `name` with one leading `/` removed: the name `.signatures.json` lists the file under. */
  path: string;
  content: Buffer;
}

export interface TarballLimits {
  /** Regular files at most (default 50,000). */
  maxFiles?: number;
  /** Bytes per file at most (default 1 GiB, OPA's default `size_limit_bytes`). */
  maxFileBytes?: number;
  /** Bytes of file content in all at most (default 1 GiB). */
  maxTotalBytes?: number;
}

const DEFAULT_LIMITS: Required<TarballLimits> = { maxFiles: 50_000, maxFileBytes: 1024 ** 3, maxTotalBytes: 1024 ** 3 };
/** Tar framing per entry (header, padding, pax or GNU long-name records) allowed beyond file content. */
const FRAMING_PER_ENTRY = 4096;
const FRAMING_FIXED = 64 * 1024;

const gunzipAsync = promisify(gunzip);

function invalid(message: string, cause?: unknown): BuildError {
  return new BuildError('tarball_invalid', `bundle tarball: ${message}`, {}, cause === undefined ? undefined : { cause });
}

function tooLarge(message: string, limit: number): BuildError {
  return new BuildError('tarball_too_large', `bundle tarball: ${message}`, { limit });
}

/** Why a tar entry name is refused, or undefined when it is a usable bundle path. */
function nameProblem(name: string): string | undefined {
  if (name.includes('\0')) return 'contains NUL';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes('\uFFFD')) return 'is not valid UTF-8';
  const path = name.startsWith('/') ? name.slice(1) : name;
  if (path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) return "has an empty, '.' or '..' segment";
  return undefined;
}

/**
 * Decompresses (multi-member gzip, as `tarball-writer` produces, is one stream) and lists the regular
 * files in archive order. Limits are checked against each tar header before its content is read.
 */
export async function readTarball(tarGz: Buffer, limits: TarballLimits = {}): Promise<TarballEntry[]> {
  const { maxFiles, maxFileBytes, maxTotalBytes } = { ...DEFAULT_LIMITS, ...limits };
  const maxInflated = maxTotalBytes + FRAMING_FIXED + maxFiles * FRAMING_PER_ENTRY;
  let tar: Buffer;
  try {
    tar = await gunzipAsync(tarGz, { maxOutputLength: maxInflated });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(`decompresses to more than ${maxInflated} bytes`, maxInflated);
    }
    throw invalid(`not a gzip stream (${(error as Error).message})`, error);
  }

  const entries: TarballEntry[] = [];
  const seen = new Set<string>();
  let total = 0;
  const extractor = extract();
  const done = (async () => {
    for await (const entry of extractor) {
      const { name, type } = entry.header;
      const size = entry.header.size ?? 0;
      if (type === 'directory') {
        entry.resume();
        continue;
      }
      if (type !== 'file') throw invalid(`entry '${name}' is a ${type ?? 'unknown entry'}; bundles hold regular files only`);
      const problem = nameProblem(name);
      if (problem) throw invalid(`entry name ${JSON.stringify(name)} ${problem}`);
      const path = name.startsWith('/') ? name.slice(1) : name;
      if (seen.has(path)) throw invalid(`'${path}' appears more than once`);
      seen.add(path);
      if (entries.length + 1 > maxFiles) throw tooLarge(`more than ${maxFiles} files`, maxFiles);
      if (size > maxFileBytes) throw tooLarge(`'${path}' is ${size} bytes; the limit is ${maxFileBytes}`, maxFileBytes);
      total += size;
      if (total > maxTotalBytes) throw tooLarge(`files add up to more than ${maxTotalBytes} bytes`, maxTotalBytes);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.push({ name, path, content: Buffer.concat(chunks) });
    }
  })();
  extractor.end(tar);
  try {
    await done;
  } catch (error) {
    extractor.destroy();
    if (error instanceof BuildError) throw error;
    throw invalid(`not a tar archive (${(error as Error).message})`, error);
  }
  return entries;
}
