import { describe, expect, test } from 'vitest';
import { FleetAwarePolicyGate } from './fleet-aware-policy-gate.js';
import { FleetGateTarget, type GateTarget } from './fleet-gate-target.js';
import { MemoizedPolicyGate } from '../candidates/memoized-policy-gate.js';
import type { GateInput, GateReport, PolicyGate } from '../candidates/policy-gate.js';

const KNOWN = ['v0.70.0', 'v1.0.0', 'v1.0.1', 'v1.4.0', 'v1.21.3', 'v1.22.0', 'v1.22.2'];

function target(options: { floor?: string; live?: Record<string, number> } = {}): FleetGateTarget {
  return FleetGateTarget.create({ floor: options.floor, current: '1.22.2', known: KNOWN, liveVersions: () => new Map(Object.entries(options.live ?? {})) });
}

describe('FleetGateTarget', () => {
  test.each<[string, { floor?: string; live?: Record<string, number> }, GateTarget]>([
    ['nothing known: Regent\'s own OPA', {}, { opaVersion: 'v1.22.2', source: 'regent' }],
    ['only agents as new as Regent\'s OPA', { live: { '1.22.2': 3 } }, { opaVersion: 'v1.22.2', source: 'regent' }],
    ['agents newer than Regent\'s OPA: never a newer check than Regent can make', { live: { '1.30.0': 1 } }, { opaVersion: 'v1.22.2', source: 'regent' }],
    ['the floor', { floor: 'v1.0.0' }, { opaVersion: 'v1.0.0', source: 'floor' }],
    ['the floor without its v', { floor: '1.0.0', live: { '1.22.2': 2 } }, { opaVersion: 'v1.0.0', source: 'floor' }],
    ['a live agent older than the floor', { floor: 'v1.4.0', live: { '1.0.1': 2, '1.22.2': 5 } }, { opaVersion: 'v1.0.1', source: 'agents', agents: 2 }],
    ['the floor when an agent runs the same version', { floor: 'v1.0.0', live: { '1.0.0': 1 } }, { opaVersion: 'v1.0.0', source: 'floor' }],
    ['an agent release Regent has no capabilities of: the newest before it', { live: { '1.3.7': 1 } }, { opaVersion: 'v1.0.1', source: 'agents', agents: 1 }],
    ['a development build counts as its release', { live: { '1.4.0-dev': 1 } }, { opaVersion: 'v1.4.0', source: 'agents', agents: 1 }],
    ['older than every capabilities file: the oldest there is', { live: { '0.10.0': 1 } }, { opaVersion: 'v0.70.0', source: 'agents', agents: 1 }],
    ['versions that are not releases are ignored', { live: { 'edge': 4, '': 1, '1.22.0': 1 } }, { opaVersion: 'v1.22.0', source: 'agents', agents: 1 }],
  ])('%s', (_name, options, expected) => {
    expect(target(options).target()).toEqual(expected);
  });

  test('status names the floor, the oldest live agent and Regent\'s OPA', () => {
    expect(target({ floor: 'v1.0.0', live: { '1.21.3': 1 } }).status()).toEqual({
      opaVersion: 'v1.0.0', source: 'floor', minAgentVersion: 'v1.0.0', oldestAgentVersion: 'v1.21.3', regentOpaVersion: 'v1.22.2',
    });
  });

  test('knows exactly the releases it has capabilities for', () => {
    expect(FleetGateTarget.knows(KNOWN, 'v1.0.0')).toBe(true);
    expect(FleetGateTarget.knows(KNOWN, '1.0.0')).toBe(true);
    expect(FleetGateTarget.knows(KNOWN, 'v1.0.3')).toBe(false);
  });
});

/** A gate that records the versions it was asked to check against and refuses `split_n` on v1.0.0. */
function recordingGate(): PolicyGate & { versions: Array<string | undefined> } {
  const gate = {
    versions: [] as Array<string | undefined>,
    async check(input: GateInput): Promise<GateReport> {
      gate.versions.push(input.opaVersion);
      const refused = input.opaVersion === 'v1.0.0';
      return {
        ok: !refused,
        problems: refused ? [{ code: 'builtin_unavailable_on_fleet', message: 'built-in strings.split_n is not available on OPA v1.0.0', builtin: 'strings.split_n', opaVersion: 'v1.0.0' }] : [],
        tests: { passed: 0, failed: 0, errored: 0 },
        durationMs: 1,
      };
    },
  };
  return gate;
}

describe('FleetAwarePolicyGate over the memoized gate', () => {
  test('checks against the fleet\'s oldest OPA, remembers verdicts per version, and says why that version counts', async () => {
    const live = new Map<string, number>([['1.22.2', 3]]);
    const fleetTarget = FleetGateTarget.create({ current: '1.22.2', known: KNOWN, liveVersions: () => live });
    const inner = recordingGate();
    const gate = FleetAwarePolicyGate.create(new MemoizedPolicyGate(inner), () => fleetTarget.target());
    const files = [{ path: 'a/a.rego', content: Buffer.from('package a\n\nx := strings.split_n("a,b", ",", 1)\n') }];

    expect((await gate.check({ files })).ok).toBe(true);
    expect((await gate.check({ files })).cached).toBe(true);
    live.set('1.0.0', 2);
    const refused = await gate.check({ files });
    expect(refused.ok).toBe(false);
    expect(refused.problems[0]!.message).toBe("built-in strings.split_n is not available on OPA v1.0.0 (the fleet's oldest OPA: 2 live agents run it; agents on it could not activate this revision)");
    live.delete('1.0.0');
    expect(await gate.check({ files })).toMatchObject({ ok: true, cached: true });
    expect(inner.versions).toEqual([undefined, 'v1.0.0']);
  });
});
