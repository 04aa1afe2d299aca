/**
 * A declarative role spec (`*.policy.yaml`), in the format of the STELAR KLMS policy language: named
 * actions standing for concrete operations, and roles granting actions on resource patterns. Regent
 * extends it only where users need it: an optional `package` and `description`, conditions on subject
 * attributes (`when`), and `deny` rules that win over every grant. Compiled to a Rego module at build
 * time (see `spec-rego.ts`); `spec-semantics.ts` states the meaning directly.
 */

/** A value a subject attribute is compared with (by equality; numbers numerically). */
export type ConditionValue = string | number | boolean;

/** `when: { department: sales }`: the subject's attribute must equal the value, or one of the listed values. */
export interface SubjectCondition {
  attribute: string;
  values: ConditionValue[];
}

/** Where in the spec something is written (1-based). */
export interface SpecPosition {
  line: number;
  column: number;
}

/** One grant of a role: a named action on resources matching a pattern, under conditions. */
export interface SpecPermission extends SpecPosition {
  action: string;
  resource: string;
  when: SubjectCondition[];
  description?: string;
}

export interface SpecRole extends SpecPosition {
  name: string;
  description?: string;
  permissions: SpecPermission[];
}

/** A rule that refuses, whatever grants: for the subjects holding one of `roles` (everyone when absent). */
export interface SpecDenyRule extends SpecPermission {
  roles?: string[];
}

export interface PolicySpec {
  /** The repository path of the spec. */
  source: string;
  /** The Rego package, as data path segments (`a/b/c.policy.yaml` → `['a', 'b', 'c']` unless it says otherwise). */
  package: string[];
  /** Where `package` is written, when it is. */
  packageAt?: SpecPosition;
  description?: string;
  /** Named actions → the operations each stands for, in the spec's order. */
  actions: Map<string, string[]>;
  roles: SpecRole[];
  deny: SpecDenyRule[];
}

/** What a spec is asked: `{"subject": {"roles": [...], ...attributes}, "action": ..., "resource": ...}`. */
export interface SpecInput {
  subject?: unknown;
  action?: unknown;
  resource?: unknown;
}

/** A spec's answer: `allow` (false unless a grant matches and no deny rule does) and why. */
export interface SpecDecision {
  allow: boolean;
  /** The matching deny rules when any matched, else the matching grants, else that nothing granted it; sorted. */
  reasons: string[];
}

/** The reason given when no grant matched and no deny rule did either. */
export const NOTHING_GRANTED = "no permission of the subject's roles grants this action on this resource";

/** The reason a grant gives when it matches. */
export function grantReason(role: string, permission: SpecPermission): string {
  return permission.description ?? `${role} may ${permission.action} ${permission.resource}${conditionText(permission.when)}`;
}

/** The reason a deny rule gives when it matches. */
export function denyReason(rule: SpecDenyRule): string {
  if (rule.description !== undefined) return rule.description;
  const what = `${rule.action} ${rule.resource}${conditionText(rule.when)}`;
  return rule.roles === undefined ? `nobody may ${what}` : `${rule.roles.join(' or ')} may not ${what}`;
}

function conditionText(when: readonly SubjectCondition[]): string {
  if (when.length === 0) return '';
  const parts = when.map((condition) => condition.values.length === 1
    ? `${condition.attribute} is ${JSON.stringify(condition.values[0])}`
    : `${condition.attribute} is one of ${condition.values.map((value) => JSON.stringify(value)).join(', ')}`);
  return ` when ${parts.join(' and ')}`;
}
