/** Roles, weakest first: each includes everything the ones before it may do. */
export const ROLES = ['viewer', 'auditor', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when `held` includes the rights of `required`. */
export function roleSatisfies(held: Role, required: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(required);
}

/**
 * Who is acting, taken only from a verified token: commit authors and audit records come from here,
 * never from a request field.
 */
export interface Principal {
  /** `sub` claim. */
  subject: string;
  /** `name` claim, else the subject. */
  name: string;
  /** `email` claim, else `<subject>@users.regent.invalid`. */
  email: string;
  role: Role;
  /** `jti` claim, when present. */
  tokenId?: string;
}
