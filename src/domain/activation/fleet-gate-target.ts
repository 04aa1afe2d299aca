import { compareOpaVersions, opaVersionName, parseOpaVersion, type OpaVersion } from '../fleet/opa-version.js';

/** The OPA release whose capabilities the gate checks a revision against, and why that one. */
export interface GateTarget {
  /** A capabilities version name Regent's OPA knows (`v1.0.0`). */
  opaVersion: string;
  /**
   * `floor`: the configured `gate.minAgentVersion` is the oldest; `agents`: a live agent runs the oldest
   * version; `regent`: nothing older than Regent's own OPA is known, so its capabilities are used.
   */
  source: 'floor' | 'agents' | 'regent';
  /** With `agents`: how many live agents report that oldest version. */
  agents?: number;
}

export interface FleetGateTargetOptions {
  /** `gate.minAgentVersion`: agents older than this are not expected; the gate never checks against a newer one. */
  floor?: string;
  /** The version of Regent's own OPA (`1.22.2`). */
  current: string;
  /** The capabilities versions Regent's OPA ships (`opa capabilities`: `v0.17.0` ... `v1.22.2`). */
  known: readonly string[];
  /** `labels.version` of every live (not stale) agent, with how many agents report each. */
  liveVersions: () => ReadonlyMap<string, number>;
}

/**
 * The fleet's oldest OPA, as the gate must see it: the oldest of the configured floor and the versions
 * live agents report (status reports' `labels.version`), mapped onto the capabilities Regent's OPA
 * ships (the newest release at or before it), and never newer than Regent's own OPA (it cannot check
 * against built-ins it does not know). A version that is not `major.minor.patch` is ignored.
 */
export class FleetGateTarget {
  private readonly known: Array<{ name: string; version: OpaVersion }>;
  private readonly current: OpaVersion;
  private readonly floor: OpaVersion | undefined;

  private constructor(private readonly options: FleetGateTargetOptions) {
    this.known = options.known.flatMap((name) => {
      const version = parseOpaVersion(name);
      return version ? [{ name: opaVersionName(version), version }] : [];
    }).sort((a, b) => compareOpaVersions(a.version, b.version));
    const current = parseOpaVersion(options.current);
    if (!current) throw new Error(`Regent's OPA version '${options.current}' is not major.minor.patch`);
    this.current = current;
    this.floor = options.floor === undefined ? undefined : parseOpaVersion(options.floor);
  }

  static create(options: FleetGateTargetOptions): FleetGateTarget {
    return new FleetGateTarget(options);
  }

  /** Whether Regent's OPA ships the capabilities of exactly this release (for checking `gate.minAgentVersion`). */
  static knows(known: readonly string[], version: string): boolean {
    const wanted = parseOpaVersion(version);
    return wanted !== undefined && known.some((name) => {
      const candidate = parseOpaVersion(name);
      return candidate !== undefined && compareOpaVersions(candidate, wanted) === 0;
    });
  }

  target(): GateTarget {
    let oldest: { version: OpaVersion; source: 'floor' | 'agents'; agents?: number } | undefined =
      this.floor ? { version: this.floor, source: 'floor' } : undefined;
    for (const [text, agents] of this.options.liveVersions()) {
      const version = parseOpaVersion(text);
      if (!version) continue;
      if (!oldest || compareOpaVersions(version, oldest.version) < 0) oldest = { version, source: 'agents', agents };
      else if (oldest.source === 'agents' && compareOpaVersions(version, oldest.version) === 0) oldest.agents = (oldest.agents ?? 0) + agents;
    }
    if (!oldest || compareOpaVersions(oldest.version, this.current) >= 0) return { opaVersion: opaVersionName(this.current), source: 'regent' };
    const name = this.capabilitiesAtOrBefore(oldest.version);
    return { opaVersion: name, source: oldest.source, ...(oldest.source === 'agents' ? { agents: oldest.agents } : {}) };
  }

  /** For `GET /status` → `gate`: the target, the floor and the oldest version a live agent reports. */
  status(): Record<string, unknown> {
    let oldestAgent: OpaVersion | undefined;
    for (const text of this.options.liveVersions().keys()) {
      const version = parseOpaVersion(text);
      if (version && (!oldestAgent || compareOpaVersions(version, oldestAgent) < 0)) oldestAgent = version;
    }
    return {
      ...this.target(),
      minAgentVersion: this.floor ? opaVersionName(this.floor) : null,
      oldestAgentVersion: oldestAgent ? opaVersionName(oldestAgent) : null,
      regentOpaVersion: opaVersionName(this.current),
    };
  }

  /** The newest release Regent's OPA has capabilities for at or before `version` (the oldest known, if none). */
  private capabilitiesAtOrBefore(version: OpaVersion): string {
    let found = this.known[0]?.name ?? opaVersionName(version);
    for (const candidate of this.known) {
      if (compareOpaVersions(candidate.version, version) > 0) break;
      found = candidate.name;
    }
    return found;
  }
}
