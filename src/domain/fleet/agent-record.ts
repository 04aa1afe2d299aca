import { dictionary } from '../dictionary.js';
import { AGENT_ID, MAX_BUNDLES, MAX_LABELS, MAX_PLUGINS, type AgentStatusReport, type ReportedBundle } from './agent-status-report.js';

/** An agent as last heard from. */
export interface AgentRecord extends AgentStatusReport {
  /** The name of the agent credential the last report came with (tokens file name, JWT subject). */
  identity?: string;
  firstSeenAt: string;
  reportedAt: string;
}

const BUNDLE_STRINGS = ['activeRevision', 'lastSuccessfulDownload', 'lastSuccessfulActivation', 'lastRequest', 'code', 'message', 'countedAs'] as const;

/**
 * An agent record read back from storage (`agents.json`), checked field by field, its labels and
 * plugins rebuilt as null-prototype objects (JSON.parse makes a `__proto__` key an own property of a
 * plain object; it stays a name). Undefined when the value is not an agent record.
 */
export function agentRecordFrom(value: unknown): AgentRecord | undefined {
  if (!isObject(value)) return undefined;
  const { agentId, labels, plugins, bundles, firstSeenAt, reportedAt, identity, partition } = value;
  if (partition !== undefined && typeof partition !== 'string') return undefined;
  if (typeof agentId !== 'string' || !AGENT_ID.test(agentId) || typeof firstSeenAt !== 'string' || typeof reportedAt !== 'string') return undefined;
  if (identity !== undefined && typeof identity !== 'string') return undefined;
  const labelEntries = stringEntries(labels, MAX_LABELS);
  const pluginEntries = stringEntries(plugins, MAX_PLUGINS);
  if (!labelEntries || !pluginEntries || !Array.isArray(bundles) || bundles.length > MAX_BUNDLES) return undefined;
  const reported: ReportedBundle[] = [];
  for (const bundle of bundles as unknown[]) {
    if (!isObject(bundle) || typeof bundle.name !== 'string') return undefined;
    const copy: ReportedBundle = { name: bundle.name };
    for (const key of BUNDLE_STRINGS) {
      const field = bundle[key];
      if (field === undefined) continue;
      if (typeof field !== 'string') return undefined;
      copy[key] = field;
    }
    if (bundle.httpCode !== undefined) {
      if (typeof bundle.httpCode !== 'number') return undefined;
      copy.httpCode = bundle.httpCode;
    }
    reported.push(copy);
  }
  return { agentId, labels: dictionary(labelEntries), bundles: reported, plugins: dictionary(pluginEntries), ...(identity === undefined ? {} : { identity }), firstSeenAt, reportedAt, ...(partition === undefined ? {} : { partition }) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringEntries(value: unknown, max: number): Array<[string, string]> | undefined {
  if (!isObject(value)) return undefined;
  const entries = Object.entries(value);
  if (entries.length > max || entries.some(([, item]) => typeof item !== 'string')) return undefined;
  return entries as Array<[string, string]>;
}
