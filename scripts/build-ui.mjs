#!/usr/bin/env node
// Bundles the web view (ui/) into dist/ui/ with esbuild: ui/src/main.ts and ui/src/style.css become
// content-hashed files (app-<hash>.js, style-<hash>.css, cached for a year by Regent), ui/index.html is
// written with their names, and ui/public/* is copied as is. The new folder replaces the old one in two
// renames, so a Regent starting meanwhile reads one whole build. Part of `npm run build`.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the web view into `outDir` (default dist/ui); returns the names of the files written. */
export async function buildUi(outDir = join(root, 'dist', 'ui')) {
  const staging = `${outDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const result = await build({
    entryPoints: { app: join(root, 'ui', 'src', 'main.ts'), style: join(root, 'ui', 'src', 'style.css') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    entryNames: '[name]-[hash]',
    outdir: staging,
    write: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const names = {};
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    writeFileSync(join(staging, name), file.contents);
    names[name.endsWith('.js') ? 'js' : 'css'] = name;
  }
  if (!names.js || !names.css) throw new Error('esbuild produced no script or style sheet');
  const html = readFileSync(join(root, 'ui', 'index.html'), 'utf8').replace('%APP_JS%', names.js).replace('%STYLE_CSS%', names.css);
  if (html.includes('%')) throw new Error('ui/index.html has a placeholder left');
  writeFileSync(join(staging, 'index.html'), html);
  for (const name of readdirSync(join(root, 'ui', 'public'))) copyFileSync(join(root, 'ui', 'public', name), join(staging, name));
  const old = `${outDir}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(outDir, old);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
  return readdirSync(outDir).sort();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const files = await buildUi();
    console.log(`build-ui: dist/ui/ ${files.join(' ')}`);
  } catch (error) {
    console.error(`build-ui: ${error.message}`);
    process.exit(1);
  }
}
