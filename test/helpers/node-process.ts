import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * Runs a TypeScript entry point of this checkout (through tsx) on the Node that runs the tests
 * (`process.execPath`), so `npm run test:node24` tests the children on Node 24 too. Never start
 * `node` from PATH in a test: under npm that is node_modules/.bin/node, the pinned Node 24, whatever
 * Node runs the suite (ESLint refuses `spawn('node', ...)`).
 */
export function spawnTypeScript(entry: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: options.cwd ?? PROJECT_ROOT, env: options.env ?? process.env, stdio: 'pipe' });
}
