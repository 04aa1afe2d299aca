import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OpaCli } from './opa-cli.js';

/**
 * Built-ins a policy author must not reach on the fleet: `http.send` and `net.lookup_ip_addr` talk to
 * the network from every agent, `opa.runtime` exposes the agent's environment and config.
 */
export const FORBIDDEN_BUILTINS: readonly string[] = ['http.send', 'net.lookup_ip_addr', 'opa.runtime'];

/**
 * Writes the capabilities file the gate checks against: this OPA's own capabilities minus the
 * forbidden built-ins. Returns its path.
 */
export async function writeRestrictedCapabilities(opa: OpaCli, dir: string): Promise<string> {
  const result = await opa.run(['capabilities', '--current'], { priority: 'activation' });
  if (result.exitCode !== 0) throw new Error(`opa capabilities failed: ${result.stderr.trim()}`);
  const capabilities = JSON.parse(result.stdout) as { builtins: Array<{ name: string }> };
  capabilities.builtins = capabilities.builtins.filter((builtin) => !FORBIDDEN_BUILTINS.includes(builtin.name));
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'capabilities.json');
  await writeFile(`${path}.tmp`, JSON.stringify(capabilities));
  await rename(`${path}.tmp`, path);
  return path;
}
