import { denyReason, grantReason, NOTHING_GRANTED, type PolicySpec, type SpecDecision, type SpecPermission } from './policy-spec.js';
import { matchesPattern } from './resource-pattern.js';

/**
 * What a spec means, stated directly in TypeScript: the reference the compiled Rego is tested against
 * (the README's "Policies without Rego" describes the same rules).
 *
 * - The subject's roles are the strings in `input.subject.roles` (anything else there: no roles).
 * - A permission matches when the input's `action` is the permission's named action or one of the
 *   operations it stands for, the `resource` (a string) matches its pattern, and every `when` attribute
 *   of `input.subject` equals the value (or one of the values) given.
 * - `allow` is true when a permission of one of the subject's roles matches and no deny rule does (a
 *   deny rule applies to subjects holding one of its `roles`, or to everyone without `roles`).
 * - `reasons`: the matching deny rules, else the matching permissions, else {@link NOTHING_GRANTED}.
 */
export function decideSpec(spec: PolicySpec, input: unknown): SpecDecision {
  const { subject, action, resource } = isObject(input) ? input : {};
  const listed = isObject(subject) && Array.isArray(subject.roles) ? subject.roles : [];
  const roles = new Set(listed.filter((role): role is string => typeof role === 'string'));
  const matches = (permission: SpecPermission): boolean =>
    typeof action === 'string' && (action === permission.action || spec.actions.get(permission.action)!.includes(action))
    && typeof resource === 'string' && matchesPattern(permission.resource, resource)
    && permission.when.every((condition) => isObject(subject) && Object.hasOwn(subject, condition.attribute) && condition.values.some((value) => value === subject[condition.attribute]));
  const grants = new Set<string>();
  for (const role of spec.roles) {
    if (!roles.has(role.name)) continue;
    for (const permission of role.permissions) if (matches(permission)) grants.add(grantReason(role.name, permission));
  }
  const denials = new Set<string>();
  for (const rule of spec.deny) {
    if ((rule.roles === undefined || rule.roles.some((role) => roles.has(role))) && matches(rule)) denials.add(denyReason(rule));
  }
  const reasons = denials.size > 0 ? denials : grants.size > 0 ? grants : new Set([NOTHING_GRANTED]);
  return { allow: grants.size > 0 && denials.size === 0, reasons: [...reasons].sort(byUtf8) };
}

/** Strings in the order OPA sorts them (by their UTF-8 bytes). */
export function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
