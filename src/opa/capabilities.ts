import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OpaCli } from './opa-cli.js';

/**
 * Built-ins a policy author must not reach on the fleet: `http.send` and `net.lookup_ip_addr` talk to
 * the network from every agent, `opa.runtime` exposes the agent's environment and config.
 */
export const FORBIDDEN_BUILTINS: readonly string[] = ['http.send', 'net.lookup_ip_addr', 'opa.runtime'];

/** A restricted capabilities file: one OPA release's capabilities minus {@link FORBIDDEN_BUILTINS}. */
export interface RestrictedCapabilities {
  /** The release (`v1.0.0`), or undefined for Regent's own OPA (`opa capabilities --current`). */
  version?: string;
  path: string;
  /** The built-ins it allows. */
  builtins: ReadonlySet<string>;
}

/**
 * Writes the capabilities file the gate checks against: this OPA's own capabilities minus the
 * forbidden built-ins. Returns its path.
 */
export async function writeRestrictedCapabilities(opa: OpaCli, dir: string): Promise<string> {
  return (await restrictedCapabilities(opa, dir, undefined)).path;
}

const VERSION_NAME = /^v\d{1,4}\.\d{1,4}\.\d{1,4}$/;

/**
 * Every release's capabilities Regent's OPA ships (`opa capabilities` lists them, `opa capabilities
 * --version v1.0.0` prints one from the binary's embedded files), restricted like Regent's own, written
 * once per release into `dir` when first asked for: the gate checks a revision against the fleet's oldest
 * OPA with them.
 */
export class OpaCapabilities {
  private readonly byVersion = new Map<string, Promise<RestrictedCapabilities>>();

  private constructor(private readonly opa: OpaCli, private readonly dir: string, readonly current: RestrictedCapabilities, readonly known: readonly string[]) {}

  static async create(opa: OpaCli, dir: string): Promise<OpaCapabilities> {
    const current = await restrictedCapabilities(opa, dir, undefined);
    const listed = await opa.run(['capabilities'], { priority: 'activation' });
    if (listed.exitCode !== 0) throw new Error(`opa capabilities failed: ${listed.stderr.trim()}`);
    const known = listed.stdout.split('\n').map((line) => line.trim()).filter((line) => VERSION_NAME.test(line));
    return new OpaCapabilities(opa, dir, current, known);
  }

  /** The restricted capabilities of `version` (one of {@link known}), or Regent's own when undefined. */
  forVersion(version: string | undefined): Promise<RestrictedCapabilities> {
    if (version === undefined) return Promise.resolve(this.current);
    if (!this.known.includes(version)) return Promise.reject(new Error(`OPA ${this.opa.version} has no capabilities for ${version}`));
    let capabilities = this.byVersion.get(version);
    if (!capabilities) {
      capabilities = restrictedCapabilities(this.opa, this.dir, version);
      // A failed write (disk full) is tried again by the next check, not remembered.
      capabilities.catch(() => this.byVersion.delete(version));
      this.byVersion.set(version, capabilities);
    }
    return capabilities;
  }
}

async function restrictedCapabilities(opa: OpaCli, dir: string, version: string | undefined): Promise<RestrictedCapabilities> {
  const result = await opa.run(['capabilities', ...(version === undefined ? ['--current'] : ['--version', version])], { priority: 'activation' });
  if (result.exitCode !== 0) throw new Error(`opa capabilities ${version ?? '--current'} failed: ${result.stderr.trim()}`);
  const capabilities = JSON.parse(result.stdout) as { builtins: Array<{ name: string }> };
  capabilities.builtins = capabilities.builtins.filter((builtin) => !FORBIDDEN_BUILTINS.includes(builtin.name));
  await mkdir(dir, { recursive: true });
  const path = join(dir, version === undefined ? 'capabilities.json' : `capabilities-${version}.json`);
  await writeFile(`${path}.tmp`, JSON.stringify(capabilities));
  await rename(`${path}.tmp`, path);
  return { ...(version === undefined ? {} : { version }), path, builtins: new Set(capabilities.builtins.map((builtin) => builtin.name)) };
}
