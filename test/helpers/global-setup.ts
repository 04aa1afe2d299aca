import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Runs once before the suite: points every test at the pinned OPA that `scripts/ensure-opa.mjs`
 * installed (or the one on PATH), and bundles the web view into dist/ui. A missing OPA fails the
 * whole run loudly; no test is skipped.
 */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..', '..');
  const local = join(root, '.tools', 'bin', 'opa');
  const candidate = process.env.REGENT_OPA_PATH ?? (existsSync(local) ? local : 'opa');
  const probe = spawnSync(candidate, ['version'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(
      `OPA is required by the tests and was not found at '${candidate}'. Run 'node scripts/ensure-opa.mjs' (npm test does).`,
    );
  }
  process.env.REGENT_OPA_PATH = candidate;
  // The web view is served from what `npm run build` bundles into dist/ui: bundle it from the sources
  // under test, once, before any Regent starts (it takes well under a second).
  const ui = spawnSync(process.execPath, [join(root, 'scripts', 'build-ui.mjs')], { cwd: root, encoding: 'utf8' });
  if (ui.status !== 0) throw new Error(`building the web view failed:\n${ui.stdout}${ui.stderr}`);
  // The fleet floor's OPA (an old release agents may still run), installed by `npm test`'s pretest.
  const floor = process.env.REGENT_TEST_OPA_FLOOR_PATH ?? join(root, '.tools', 'bin', `opa-${FLOOR_OPA_VERSION}`);
  if (spawnSync(floor, ['version'], { encoding: 'utf8' }).status !== 0) {
    throw new Error(`OPA v${FLOOR_OPA_VERSION} is required by the fleet tests and was not found at '${floor}'. Run 'node scripts/ensure-opa.mjs --also ${FLOOR_OPA_VERSION}' (npm test does).`);
  }
  process.env.REGENT_TEST_OPA_FLOOR_PATH = floor;
}

/** The old OPA release the fleet tests run agents on (a floor below the pinned release). */
export const FLOOR_OPA_VERSION = '1.0.0';
