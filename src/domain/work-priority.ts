/**
 * Who is waiting for a piece of OPA work, highest first. The OPA runner starts queued work in this order
 * and keeps capacity for the first two, so a slow evaluation or a background revalidation can never
 * delay an activation or an admin write.
 *
 * - `activation`: the gate on a new head (what the fleet will be served).
 * - `write`: validation of an admin write, a change-request proposal or merge, a promotion.
 * - `interactive`: a caller asked and waits (evaluate, validate-only, inspect).
 * - `background`: nobody waits (revalidation of open change requests when head moves).
 */
export type WorkPriority = 'activation' | 'write' | 'interactive' | 'background';

export const WORK_PRIORITIES: readonly WorkPriority[] = ['activation', 'write', 'interactive', 'background'];
