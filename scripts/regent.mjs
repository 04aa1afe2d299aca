// `npm run token -- ...` (and `node scripts/regent.mjs <command> ...`): the built CLI, at once. It builds
// first only when dist/ is missing or older than a source file, so minting a token does not recompile.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'regent.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function builtAt() {
  try {
    return statSync(cli).mtimeMs;
  } catch {
    return 0;
  }
}

if (builtAt() < newestSource(join(root, 'src'))) {
  process.stderr.write('regent: dist/ is missing or older than src/: building (npm run build)...\n');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  spawnSync(process.execPath, [join(root, 'scripts', 'make-cli-executable.mjs')], { stdio: 'inherit' });
}

const { runCliProcess } = await import(pathToFileURL(cli).href);
runCliProcess(process.argv.slice(2));
