const AUDITED = Symbol('regent.audited');

/** Marks an error whose refusal is already in the audit log, so an outer layer does not record it twice. */
export function markAudited<T>(error: T): T {
  if (typeof error === 'object' && error !== null) (error as Record<symbol, unknown>)[AUDITED] = true;
  return error;
}

export function isAudited(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[AUDITED] === true;
}
