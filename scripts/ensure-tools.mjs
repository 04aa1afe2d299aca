#!/usr/bin/env node
// Makes sure every tool the tests run against is there (each built or installed once per machine and
// linked into .tools/bin): runs each scripts/ensure-*.mjs in turn, stopping at the first that fails.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Arguments some scripts take for the tests: the fleet tests also run agents on OPA v1.0.0. */
const ARGS = new Map([['ensure-opa.mjs', ['--also', '1.0.0']]]);
const scripts = readdirSync(here).filter((name) => /^ensure-.+\.mjs$/.test(name) && name !== 'ensure-tools.mjs').sort();
for (const script of scripts) {
  const result = spawnSync(process.execPath, [join(here, script), ...(ARGS.get(script) ?? [])], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`ensure-tools: ${script} failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}
