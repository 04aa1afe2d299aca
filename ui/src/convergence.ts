/**
 * How a bundle's served revision spread over the fleet, from the agents' own reports (`GET /api/fleet`):
 * each agent enforcing the served revision says when it activated it. Pure, tested without a browser.
 */
export interface ReportedBundle {
  name: string;
  activeRevision?: string;
  lastSuccessfulActivation?: string;
  code?: string;
  message?: string;
}

export interface AgentView {
  agentId: string;
  labels?: Record<string, string>;
  bundles: ReportedBundle[];
  reportedAt?: string;
  firstSeenAt?: string;
  stale?: boolean;
}

export interface ConvergencePoint {
  /** Milliseconds after the revision was published (never negative). */
  atMs: number;
  /** Agents enforcing the served revision by then. */
  agents: number;
}

export interface ConvergenceCurve {
  /** Agents reporting the bundle (the 100% line). */
  total: number;
  /** One point per activation, in time order. */
  points: ConvergencePoint[];
  /** Time until 50%, 90% and 100% of the agents enforced it; absent until reached. */
  p50?: number;
  p90?: number;
  p100?: number;
}

/**
 * The cumulative curve of a bundle: `publishedAt` is when Regent started serving `servedRevision`; an
 * agent that had it before (a restart of Regent) counts from 0.
 */
export function convergenceCurve(agents: readonly AgentView[], bundle: string, servedRevision: string | undefined, publishedAt: number | undefined): ConvergenceCurve {
  let total = 0;
  const times: number[] = [];
  for (const agent of agents) {
    if (agent.stale) continue;
    const reported = agent.bundles.find((candidate) => candidate.name === bundle);
    if (!reported) continue;
    total++;
    if (servedRevision === undefined || reported.activeRevision !== servedRevision) continue;
    const activated = reported.lastSuccessfulActivation ? Date.parse(reported.lastSuccessfulActivation) : NaN;
    const base = publishedAt ?? activated;
    times.push(Number.isNaN(activated) || Number.isNaN(base) ? 0 : Math.max(0, activated - base));
  }
  times.sort((a, b) => a - b);
  const points = times.map((atMs, index) => ({ atMs, agents: index + 1 }));
  const reach = (fraction: number): number | undefined => {
    if (total === 0) return undefined;
    const needed = Math.ceil(total * fraction);
    return points[needed - 1]?.atMs;
  };
  return { total, points, p50: reach(0.5), p90: reach(0.9), p100: reach(1) };
}

export interface ReportedMilestones {
  p50?: number;
  p90?: number;
  p100?: number;
}

/**
 * The 50/90/100% times as Regent reports them in a bundle's summary, when it does: any numeric member
 * (or member of a nested object) whose name says 50, 90 or 100 and milliseconds (`p50Ms`,
 * `convergence: {p90Ms}`, `timeTo100PercentMs`). Undefined when the summary has none (older Regents).
 */
export function reportedMilestones(summary: Record<string, unknown>): ReportedMilestones | undefined {
  const found: ReportedMilestones = {};
  const visit = (object: Record<string, unknown>, depth: number): void => {
    for (const [key, value] of Object.entries(object)) {
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && depth < 2) visit(value as Record<string, unknown>, depth + 1);
      if (typeof value !== 'number' || !/ms$/i.test(key)) continue;
      const percent = /(?:^|[^0-9])(50|90|100)(?![0-9])/.exec(key)?.[1];
      if (percent === '50') found.p50 ??= value;
      else if (percent === '90') found.p90 ??= value;
      else if (percent === '100') found.p100 ??= value;
    }
  };
  visit(summary, 0);
  return found.p50 === undefined && found.p90 === undefined && found.p100 === undefined ? undefined : found;
}
