/**
 * Who an OPA agent is, as its credential says, and what it may read. Bundle names are read within a
 * bundle set: the tracked branch's set at `/bundles/<name>` (called `default` here) or an environment's at
 * `/bundles/<environment>/<name>`.
 */

/** The name of the tracked branch's bundle set in an identity's `environments`. */
export const DEFAULT_BUNDLE_SET = 'default';
/** Everything: every bundle, or every bundle set. */
export const ANY = '*';

export interface AgentIdentity {
  /** The token's name (tokens file), the JWT's subject, or `anonymous` when agent access is open. */
  name: string;
  source: 'token' | 'jwt' | 'anonymous';
  /**
   * Bundle names it may read: exact names, `*` for all, or `prefix/*` for every name under `prefix/`.
   * Within every set it may read.
   */
  bundles: readonly string[];
  /** Bundle sets it may read: environment names, `default` for the tracked branch's set, `*` for all. */
  environments: readonly string[];
  /** When its credential stops being valid (JWT `exp`, ms since the epoch); never for tokens from the file. */
  expiresAtMs?: number;
}

/** Open access (development mode, or `agents.allowAnonymous`): every bundle of every set. */
export const ANONYMOUS_AGENT: AgentIdentity = Object.freeze({ name: 'anonymous', source: 'anonymous', bundles: Object.freeze([ANY]), environments: Object.freeze([ANY]) });

/** Whether `identity` may read the bundle set `set` (an environment name, or {@link DEFAULT_BUNDLE_SET}). */
export function mayReadSet(identity: AgentIdentity, set: string): boolean {
  const { environments } = identity;
  for (let i = 0; i < environments.length; i++) {
    const allowed = environments[i]!;
    if (allowed === ANY || allowed === set) return true;
  }
  return false;
}

/** Whether `identity` may read a bundle named `bundle` (in a set it may read). */
export function mayReadBundle(identity: AgentIdentity, bundle: string): boolean {
  const { bundles } = identity;
  for (let i = 0; i < bundles.length; i++) {
    const allowed = bundles[i]!;
    if (allowed === ANY || allowed === bundle) return true;
    if (allowed.endsWith('/*') && bundle.length > allowed.length - 1 && bundle.startsWith(allowed.slice(0, -1))) return true;
  }
  return false;
}

/** A bundle name pattern as an identity may list it: a bundle name, `*`, or `prefix/*`. */
export const BUNDLE_PATTERN = /^(\*|[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*(\/\*)?)$/;
/** A bundle set as an identity may list it: an environment name, `default`, or `*`. */
export const SET_PATTERN = /^(\*|[a-z][a-z0-9-]{0,31})$/;
/** An agent's name: what the fleet view and the logs show. */
export const AGENT_NAME = /^[A-Za-z0-9._:@/-]{1,128}$/;
