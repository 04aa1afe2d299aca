import { createHash } from 'node:crypto';
import { isAuditAction, type AuditRecord, type AuditRecordInput } from '../domain/audit/audit-log.js';

/**
 * The on-disk form of one audit record: one line of compact JSON, `{seq, at, prev, ...input}`, with the
 * input's known fields in a fixed order and every string capped, so a hostile commit message or path
 * list cannot bloat the log. `prev` is the hex SHA-256 of the previous line's bytes (without its
 * newline); the first line's `prev` is {@link ZERO_HASH}.
 */

/** `prev` of the first record. */
export const ZERO_HASH = '0'.repeat(64);

/** Caps applied to every appended record (characters, or entries for `paths`). */
export const AUDIT_LIMITS = Object.freeze({ message: 2000, detail: 2000, paths: 100, path: 512, field: 256 });

/** A line longer than this cannot be a record written under {@link AUDIT_LIMITS}; it is not parsed. */
export const MAX_LINE_BYTES = 1024 * 1024;

const OUTCOMES: ReadonlySet<string> = new Set<AuditRecordInput['outcome']>(['success', 'refused', 'failed']);

/** Hex SHA-256 of one line's bytes, newline excluded: what the next record's `prev` must be. */
export function lineHash(line: Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
}

function cap(value: unknown, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : String(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The fields of `input` that go on record, in a fixed order, capped. Throws `TypeError` for an unknown
 * action or outcome, or `paths` that is not an array: those are bugs in the caller, never written.
 */
export function sanitizeAuditInput(input: AuditRecordInput): AuditRecordInput {
  if (!isAuditAction(input?.action)) throw new TypeError(`unknown audit action '${cap(input?.action, 64)}'`);
  if (!OUTCOMES.has(input.outcome)) throw new TypeError(`unknown audit outcome '${cap(input.outcome, 64)}'`);
  if (input.paths !== undefined && !Array.isArray(input.paths)) throw new TypeError('audit paths must be an array');
  const { field } = AUDIT_LIMITS;
  const record: AuditRecordInput = { action: input.action, outcome: input.outcome };
  const optional: Array<[keyof AuditRecordInput, number]> = [
    ['subject', field], ['role', field], ['requestId', field], ['revision', field], ['baseRevision', field], ['changeRequest', field], ['environment', field],
  ];
  for (const [key, max] of optional) setIfDefined(record, key, cap(input[key], max));
  if (input.paths !== undefined) {
    record.paths = input.paths.slice(0, AUDIT_LIMITS.paths).map((path) => cap(path, AUDIT_LIMITS.path) ?? '');
  }
  setIfDefined(record, 'message', cap(input.message, AUDIT_LIMITS.message));
  setIfDefined(record, 'reason', cap(input.reason, field));
  setIfDefined(record, 'detail', cap(input.detail, AUDIT_LIMITS.detail));
  return record;
}

function setIfDefined(record: AuditRecordInput, key: keyof AuditRecordInput, value: string | undefined): void {
  if (value !== undefined) (record as unknown as Record<string, unknown>)[key] = value;
}

/**
 * Parses one line back into a record, or `undefined` when it is not one (not JSON, or missing or
 * mistyped `seq`, `at`, `prev`, `action`, `outcome`, `subject`, `paths`). Whether `prev` is right is the
 * chain check's business.
 */
export function decodeAuditLine(text: string): AuditRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Partial<AuditRecord>;
  const { seq, at, prev, subject, paths } = record;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  // `at` is parsed where it is used (the index); a `prev` that is not a hash cannot match the chain.
  if (typeof at !== 'string' || typeof prev !== 'string' || prev.length !== ZERO_HASH.length) return undefined;
  if (!isAuditAction(record.action) || !OUTCOMES.has(record.outcome as string)) return undefined;
  if (subject !== undefined && typeof subject !== 'string') return undefined;
  if (paths !== undefined && !(Array.isArray(paths) && paths.every((path) => typeof path === 'string'))) return undefined;
  return record as AuditRecord;
}
