import type { GateTarget } from './fleet-gate-target.js';
import type { GateInput, GateProblem, GateReport, PolicyGate } from '../candidates/policy-gate.js';

/** The problem code of a built-in that Regent's OPA knows and the fleet's oldest OPA does not. */
export const BUILTIN_UNAVAILABLE_ON_FLEET = 'builtin_unavailable_on_fleet';

/**
 * Checks every candidate against the capabilities of the fleet's oldest OPA ({@link GateTarget}), so a
 * revision using a built-in that some agent's OPA lacks is refused before any agent downloads it (that
 * agent could not activate it, and would keep asking). The target is read once per check and passed on
 * as `opaVersion`, which the remembered verdicts are keyed by: when the oldest live version changes, new
 * heads are checked against the new one. Findings of a missing built-in say why that version counts.
 */
export class FleetAwarePolicyGate implements PolicyGate {
  private constructor(private readonly inner: PolicyGate, private readonly target: () => GateTarget) {}

  static create(inner: PolicyGate, target: () => GateTarget): FleetAwarePolicyGate {
    return new FleetAwarePolicyGate(inner, target);
  }

  async check(input: GateInput): Promise<GateReport> {
    const target = this.target();
    const opaVersion = input.opaVersion ?? (target.source === 'regent' ? undefined : target.opaVersion);
    const report = await this.inner.check(opaVersion === undefined ? input : { ...input, opaVersion });
    if (!report.problems.some((problem) => problem.code === BUILTIN_UNAVAILABLE_ON_FLEET)) return report;
    return { ...report, problems: report.problems.map((problem) => explain(problem, target)) };
  }
}

function explain(problem: GateProblem, target: GateTarget): GateProblem {
  if (problem.code !== BUILTIN_UNAVAILABLE_ON_FLEET || target.source === 'regent') return problem;
  const why = target.source === 'floor'
    ? `gate.minAgentVersion is ${target.opaVersion}`
    : `${target.agents ?? 'some'} live agent${target.agents === 1 ? '' : 's'} run${target.agents === 1 ? 's' : ''} it`;
  return { ...problem, message: `${problem.message} (the fleet's oldest OPA: ${why}; agents on it could not activate this revision)` };
}
