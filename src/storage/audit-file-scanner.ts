import { createHash, hash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { AuditRecord } from '../domain/audit/audit-log.js';
import { decodeAuditLine, MAX_LINE_BYTES, ZERO_HASH } from './audit-record-codec.js';

const CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

/** One line of the file as read: where it is, its hash, and its text unless it was too long to keep. */
export interface ScannedLine {
  /** 1-based. */
  number: number;
  offset: number;
  /** Bytes, newline excluded. */
  length: number;
  /** False only for a last line without a newline. */
  terminated: boolean;
  hash: string;
  text: string | undefined;
}

/**
 * Calls `onLine` for each line of `handle` up to byte `end`, read in 1 MiB chunks (synchronously within
 * a chunk: a million lines must not cost a million promise turns). Each line is hashed as it streams by
 * and its text kept only up to {@link MAX_LINE_BYTES}, so a corrupt file without newlines cannot
 * exhaust memory.
 */
export async function scanLines(handle: FileHandle, end: number, onLine: (line: ScannedLine) => void): Promise<void> {
  let position = 0;
  let lineStart = 0;
  let number = 0;
  // A line that spans chunks is hashed incrementally and kept in parts; any other is hashed in one shot.
  let spanning: Hash | undefined;
  let parts: Buffer[] = [];
  let kept = 0;
  while (position < end) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - position));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
    if (bytesRead === 0) break;
    const data = chunk.subarray(0, bytesRead);
    let start = 0;
    while (start < data.length) {
      const newline = data.indexOf(NEWLINE, start);
      const segment = data.subarray(start, newline === -1 ? data.length : newline);
      if (newline === -1 || spanning) {
        spanning ??= createHash('sha256');
        spanning.update(segment);
        kept += segment.length;
        parts = kept > MAX_LINE_BYTES ? [] : [...parts, segment];
      }
      if (newline === -1) break;
      number += 1;
      const lineEnd = position + newline;
      const line = spanning
        ? { hash: spanning.digest('hex'), text: kept > MAX_LINE_BYTES ? undefined : Buffer.concat(parts).toString('utf8') }
        : { hash: sha256Hex(segment), text: segment.length > MAX_LINE_BYTES ? undefined : segment.toString('utf8') };
      onLine({ number, offset: lineStart, length: lineEnd - lineStart, terminated: true, ...line });
      lineStart = lineEnd + 1;
      spanning = undefined;
      parts = [];
      kept = 0;
      start = newline + 1;
    }
    position += bytesRead;
  }
  if (spanning && position > lineStart) {
    const text = kept > MAX_LINE_BYTES ? undefined : Buffer.concat(parts).toString('utf8');
    onLine({ number: number + 1, offset: lineStart, length: position - lineStart, terminated: false, hash: spanning.digest('hex'), text });
  }
}

/** One-shot SHA-256 (`crypto.hash`, Node >= 20.12) where available: no Hash object per line. */
const sha256Hex: (data: Buffer) => string = typeof hash === 'function'
  ? (data) => hash('sha256', data, 'hex')
  : (data) => createHash('sha256').update(data).digest('hex');

/** Where and why the chain first fails to hold. */
export interface ChainBreak {
  /** 1-based line number: this line, or the one before it, is not what was written. */
  line: number;
  /** The `seq` on that line, or null when it is not a record. */
  seq: number | null;
  reason: string;
}

/** What {@link scanAuditFile} found. */
export interface AuditFileScan {
  /** Complete lines accepted as part of the log (valid or not). */
  lines: number;
  /** Byte offset just past the last accepted line. */
  end: number;
  /** Hash of the last accepted line ({@link ZERO_HASH} for an empty log): the next record's `prev`. */
  lastHash: string;
  /** Highest `seq` seen (0 for none). */
  maxSeq: number;
  broken?: ChainBreak;
  /** A last line that was never completely written (no newline, or not a record), left out of the counts. */
  torn?: { offset: number; line: number };
}

/** Options of {@link scanAuditFile}. */
export interface ScanAuditFileOptions {
  /** Called for every line that is a record, in file order. */
  onRecord?: (record: AuditRecord, offset: number, length: number) => void;
  /**
   * Report a last line a crash could have left (no newline, or NUL bytes: a block never written) as
   * `torn` instead of as a chain break (on open; `verify` reports it as broken). A complete last line
   * that is not a record is a break either way: an append writes its line and newline in one write.
   */
  tornTail: boolean;
}

/**
 * Reads the file up to `end` and checks every link: each line must be a record whose `prev` is the
 * hash of the line before and whose `seq` follows the line before's. The first failure is reported
 * and the scan goes on, so the log stays readable (and appendable) after damage.
 */
export async function scanAuditFile(handle: FileHandle, end: number, options: ScanAuditFileOptions): Promise<AuditFileScan> {
  const result: AuditFileScan = { lines: 0, end: 0, lastHash: ZERO_HASH, maxSeq: 0 };
  let previousSeq: number | undefined = 0;
  const accept = (line: ScannedLine, record: AuditRecord | undefined) => {
    const breakAt = (reason: string) => {
      result.broken ??= { line: line.number, seq: record?.seq ?? null, reason };
    };
    if (!line.terminated) breakAt('the line has no newline');
    else if (!record) breakAt('the line is not an audit record');
    else if (record.prev !== result.lastHash) breakAt('prev is not the SHA-256 of the line before');
    else if (previousSeq !== undefined && record.seq !== previousSeq + 1) breakAt('seq does not follow the line before');
    if (record) {
      options.onRecord?.(record, line.offset, line.length);
      result.maxSeq = Math.max(result.maxSeq, record.seq);
    }
    previousSeq = record?.seq;
    result.lastHash = line.hash;
    result.lines = line.number;
    result.end = line.offset + line.length + (line.terminated ? 1 : 0);
  };
  let pending: ScannedLine | undefined;
  await scanLines(handle, end, (line) => {
    if (pending) accept(pending, decode(pending));
    pending = line;
  });
  if (pending) {
    const record = pending.terminated ? decode(pending) : undefined;
    const crashArtefact = !pending.terminated || (pending.text?.includes('\0') ?? false);
    if (options.tornTail && !record && crashArtefact) result.torn = { offset: pending.offset, line: pending.number };
    else accept(pending, record);
  }
  return result;
}

function decode(line: ScannedLine): AuditRecord | undefined {
  return line.text === undefined ? undefined : decodeAuditLine(line.text);
}
