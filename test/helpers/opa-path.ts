import { opaRunnerOptions } from '../../src/composition/build-pipeline.js';
import { configSchema, type RegentConfig } from '../../src/config/schema.js';
import type { Logger } from '../../src/domain/logger.js';
import { OpaCli } from '../../src/opa/opa-cli.js';

/** The OPA binary the global setup settled on; throws (never skips) when it is missing. */
export function opaPath(): string {
  const path = process.env.REGENT_OPA_PATH;
  if (!path) throw new Error('REGENT_OPA_PATH is not set: the vitest global setup did not run or found no OPA');
  return path;
}

/** OPA v1.0.0 (`.tools/bin/opa-1.0.0`), an old release agents may still run; throws (never skips) when missing. */
export function floorOpaPath(): string {
  const path = process.env.REGENT_TEST_OPA_FLOOR_PATH;
  if (!path) throw new Error('REGENT_TEST_OPA_FLOOR_PATH is not set: the vitest global setup did not run or found no OPA v1.0.0');
  return path;
}

/** The real OPA behind the runner with Regent's default limits (`opa.*` of an empty config), or `overrides`. */
export function realOpaCli(logger: Logger, overrides: Partial<RegentConfig['opa']> = {}, path = opaPath()): Promise<OpaCli> {
  const opa = configSchema.parse({ opa: overrides }).opa;
  return OpaCli.create(opaRunnerOptions(opa, path, logger));
}
