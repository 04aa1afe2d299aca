import type { TalliedAgent } from './fleet-convergence.js';

/** A bundle a live agent reported an error for on its last attempt (it is not enforcing what it was sent). */
export interface FailingAgentBundle {
  agentId: string;
  /** The agent credential its reports come with, when credentials are required. */
  identity?: string;
  /** `labels.name`, when the agent has one. */
  name?: string;
  /** `labels.version`: the agent's OPA. */
  version?: string;
  bundle: string;
  /** The revision it still enforces, if any. */
  activeRevision?: string;
  /** OPA's error code (`bundle_error`) and message (`... undefined function strings.split_n`), HTTP status when the download failed. */
  code: string;
  message?: string;
  httpCode?: number;
  reportedAt: string;
}

/**
 * The live agents whose last status report carries a bundle error (activation, verification or download
 * failed), most recently reported first, at most `limit`, and how many there are in all: the agents to
 * look at when a revision does not converge, or when Regent holds re-downloads (see `RefetchTracker`).
 */
export function failingAgents(agents: Iterable<TalliedAgent>, liveSince: number, limit: number): { failing: FailingAgentBundle[]; total: number } {
  const failing: FailingAgentBundle[] = [];
  let total = 0;
  for (const { record, reportedAtMs } of agents) {
    if (reportedAtMs < liveSince) continue;
    for (const bundle of record.bundles) {
      if (!bundle.code) continue;
      total++;
      failing.push({
        agentId: record.agentId,
        ...(record.identity === undefined ? {} : { identity: record.identity }),
        ...(record.labels.name === undefined ? {} : { name: record.labels.name }),
        ...(record.labels.version === undefined ? {} : { version: record.labels.version }),
        bundle: bundle.name,
        ...(bundle.activeRevision === undefined ? {} : { activeRevision: bundle.activeRevision }),
        code: bundle.code,
        ...(bundle.message === undefined ? {} : { message: bundle.message }),
        ...(bundle.httpCode === undefined ? {} : { httpCode: bundle.httpCode }),
        reportedAt: record.reportedAt,
      });
    }
  }
  // The registry iterates least recently reported first: the newest reports are the most telling.
  return { failing: failing.reverse().slice(0, limit), total };
}
