import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opaPath } from './opa-path.js';
import { tempDirForTest } from './temp-dir.js';

/**
 * How the stand-in answers `opa test`, `opa check`, `opa eval` and `opa inspect` (`version` and
 * `capabilities` always go to the real OPA, so Regent can start):
 * - `real`: the real OPA;
 * - `silent`: exit 0, no output;
 * - `garbage`: a line of garbage, exit 1; `garbage-exit-0`: the same with exit 0;
 * - `empty-results`: `[]`, exit 0 (no test ran, not even Regent's canary);
 * - `drop-tests`: the real OPA's test results with every test but Regent's canary left out;
 * - `check-passes`: `opa test` says garbage (exit 1), `opa check` passes silently;
 * - `crash`: dies of SIGSEGV; `hang`: never answers;
 * - `slow-machine`: the real OPA, but `opa test` cancels any test running over 50 ms (as a loaded
 *   machine would at OPA's own per-test limit).
 */
export type OpaStandInMode = 'real' | 'silent' | 'garbage' | 'garbage-exit-0' | 'empty-results' | 'drop-tests' | 'check-passes' | 'crash' | 'hang' | 'slow-machine';

export interface OpaStandIn {
  /** The stand-in's path: give it to Regent as `REGENT_OPA_PATH` (or `opa.path`). */
  path: string;
  setMode(mode: OpaStandInMode): void;
  /** Every command the stand-in was asked to run (`test`, `check`, `eval`, ...), in order. */
  calls(): string[];
}

/**
 * An executable put in front of the real, pinned OPA to inject the faults a gate must survive. The mode
 * is read from a file at each call, so a test can switch it while Regent runs.
 */
export function opaStandIn(initial: OpaStandInMode = 'real'): OpaStandIn {
  const dir = tempDirForTest('regent-opa-stand-in-');
  const modeFile = join(dir, 'mode');
  const callsFile = join(dir, 'calls');
  const path = join(dir, 'opa');
  const script = `#!${process.execPath}
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const real = ${JSON.stringify(opaPath())};
const args = process.argv.slice(2);
const command = args[0] ?? '';
fs.appendFileSync(${JSON.stringify(callsFile)}, command + '\\n');
const passThrough = () => {
  const out = spawnSync(real, args, { stdio: 'inherit' });
  process.exit(out.status ?? 1);
};
if (command === 'version' || command === 'capabilities') passThrough();
const mode = fs.readFileSync(${JSON.stringify(modeFile)}, 'utf8').trim();
switch (mode) {
  case 'silent': process.exit(0);
  case 'garbage': process.stdout.write('garbage {[\\n'); process.exit(1);
  case 'garbage-exit-0': process.stdout.write('garbage {[\\n'); process.exit(0);
  case 'empty-results': process.stdout.write('[]\\n'); process.exit(0);
  case 'check-passes': if (command === 'check') process.exit(0); process.stdout.write('garbage\\n'); process.exit(1);
  case 'crash': process.kill(process.pid, 'SIGSEGV'); setInterval(() => {}, 1000); break;
  case 'hang': setInterval(() => {}, 1000); break;
  case 'slow-machine': {
    const out = spawnSync(real, command === 'test' ? [...args, '--timeout', '50ms'] : args, { stdio: 'inherit' });
    process.exit(out.status ?? 1);
  }
  case 'drop-tests': {
    if (command !== 'test') passThrough();
    const out = spawnSync(real, args, { encoding: 'utf8' });
    let results;
    try { results = JSON.parse(out.stdout); } catch { process.stdout.write(out.stdout); process.stderr.write(out.stderr); process.exit(out.status ?? 1); }
    process.stdout.write(JSON.stringify(results.filter((r) => String(r.package).startsWith('data.regent_gate_canary'))));
    process.exit(0);
  }
  default: passThrough();
}
`;
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  writeFileSync(modeFile, initial);
  return {
    path,
    setMode: (mode) => writeFileSync(modeFile, mode),
    calls: () => (existsSync(callsFile) ? readFileSync(callsFile, 'utf8').split('\n').filter(Boolean) : []),
  };
}

/** Forgets the calls recorded so far. */
export function resetCalls(standIn: OpaStandIn): void {
  rmSync(join(standIn.path, '..', 'calls'), { force: true });
}
