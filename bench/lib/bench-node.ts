/**
 * Which Node a benchmark runs its processes on (Regent, the bare node:http servers, the load clients it
 * starts with node): `--node <path>`, else the Node running the benchmark. Under `npm run bench:*` the
 * latter is node_modules/.bin/node, the pinned Node 24; `--node "$(command -v node)"` picks the
 * machine's. The benchmark prints the version it used.
 */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { arg, SetupError } from './harness.js';

export interface NodeBinary {
  path: string;
  version: string;
}

let chosen: NodeBinary | undefined;

export function benchNode(): NodeBinary {
  if (chosen) return chosen;
  const given = arg('node', '');
  if (given === '') {
    chosen = { path: process.execPath, version: process.version };
    return chosen;
  }
  let path: string;
  try {
    path = realpathSync(resolve(given));
  } catch {
    throw new SetupError(`--node ${given}: no such file`);
  }
  const probe = spawnSync(path, ['-p', 'process.version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new SetupError(`--node ${given} does not run: ${(probe.stderr || probe.error?.message || '').trim()}`);
  chosen = { path, version: probe.stdout.trim() };
  return chosen;
}

/** `node v24.22.3 (/path/to/node)`, for the benchmark's header and result lines. */
export function describeNode(node: NodeBinary): string {
  return `node ${node.version} (${node.path})`;
}
