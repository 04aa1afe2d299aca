import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** One file of the web view, read once, with the headers it is always served with. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
  /** Strong, quoted: the SHA-256 of the bytes, so it survives restarts. */
  readonly etag: string;
  readonly cacheControl: string;
}

/** The built web view (`npm run build` → `dist/ui/`), held in memory. */
export interface UiAssets {
  /** Where the files were read from. */
  readonly dir: string;
  /** False when the folder or its `index.html` is missing (`npm run build` was not run). */
  readonly built: boolean;
  /** A file by its name in the folder (`index.html`, `app-3KX7QH2M.js`); undefined for anything else. */
  get(name: string): StaticAsset | undefined;
}

/** The only kinds of file served; anything else in the folder is left alone. */
const CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.ico', 'image/x-icon'],
  ['.txt', 'text/plain; charset=utf-8'],
]);

/** Names the bundler gives content-hashed files (`app-3KX7QH2M.js`): their bytes never change under that name. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z]+$/;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Bounds on what is read into memory: the web view is a few small files. */
export const MAX_UI_FILES = 64;
export const MAX_UI_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Reads the web view's folder (flat: files only, known extensions, at most {@link MAX_UI_FILES} of at
 * most {@link MAX_UI_FILE_BYTES} each) into memory. Content-hashed files are cached for a year
 * (`immutable`); the others (`index.html`, which names the hashed ones) are revalidated on every use
 * (`no-cache` with an ETag), so a new build is picked up at once. A missing folder is not an error:
 * the answer says the web view was not built.
 */
export async function loadUiAssets(dir: string): Promise<UiAssets> {
  const files = new Map<string, StaticAsset>();
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [] as string[];
    throw error;
  });
  for (const name of names.sort()) {
    const contentType = CONTENT_TYPES.get(extname(name));
    if (!contentType || !SAFE_NAME.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path);
    if (!info.isFile()) continue;
    if (info.size > MAX_UI_FILE_BYTES) throw new Error(`web view file ${path} is ${info.size} bytes, over the ${MAX_UI_FILE_BYTES}-byte limit`);
    if (files.size === MAX_UI_FILES) throw new Error(`web view folder ${dir} has more than ${MAX_UI_FILES} files`);
    const body = await readFile(path);
    files.set(name, {
      body,
      contentType,
      etag: `"${createHash('sha256').update(body).digest('base64url')}"`,
      cacheControl: HASHED_NAME.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  }
  return { dir, built: files.has('index.html'), get: (name) => files.get(name) };
}
