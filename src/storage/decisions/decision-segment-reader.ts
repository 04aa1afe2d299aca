import { open } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { matchesDecision, type DecisionFilter } from '../../domain/decisions/decision-filter.js';
import type { DecisionPage, DecisionRecord } from '../../domain/decisions/decision-log.js';
import { InputError } from '../../domain/errors.js';
import { decodeDecisionLine, isCommitLine, lineNeedles } from './decision-line-codec.js';

/** A segment as a query sees it: its committed bytes at the moment the query started. */
export interface ReadableSegment {
  id: number;
  path: string;
  /** Committed bytes (the open segment grows; what a query reads is fixed when it starts). */
  end: number;
  /** False when the segment's summary rules out every record passing the filter. */
  mayMatch(filter: DecisionFilter): boolean;
}

export interface SegmentQuery {
  filter: DecisionFilter;
  limit: number;
  cursor?: string;
  /** Bytes read at most before answering with what was found (`partial`) and a cursor to go on. */
  maxScanBytes: number;
  /**
   * Bytes of stored decisions one page holds at most: the page ends before the record that would pass it
   * (with a cursor that starts at that record), but always holds at least one record.
   */
  maxPageBytes: number;
}

/** Lines parsed between two yields to the event loop. */
const LINES_PER_TURN = 2000;

/**
 * Newest first across segments (`segments` newest first), and within a segment from its last line to
 * its first: the order decisions were received in, reversed. The cursor names a segment and a byte
 * offset, and the next page starts with the line before it, so pages neither repeat nor skip while
 * decisions arrive (they are appended after every cursor) or old segments are deleted. A page ends at
 * `limit` records or at `maxPageBytes` of stored lines, whichever comes first, so what one query parses
 * and serialises is bounded by bytes as well as by count.
 */
export async function querySegments(segments: readonly ReadableSegment[], query: SegmentQuery): Promise<DecisionPage> {
  const { filter, limit, maxScanBytes, maxPageBytes } = query;
  const from = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const needles = lineNeedles(filter);
  const records: DecisionRecord[] = [];
  let scanned = 0;
  let pageBytes = 0;
  let lines = 0;
  for (const segment of segments) {
    if (from && segment.id > from.segment) continue;
    const end = from && segment.id === from.segment ? Math.min(from.offset, segment.end) : segment.end;
    if (end <= 0 || !segment.mayMatch(filter)) continue;
    if (scanned > 0 && scanned + end > maxScanBytes) return { records, nextCursor: encodeCursor(segment.id, end), partial: true };
    const bytes = await readPrefix(segment.path, end);
    if (!bytes) continue;
    scanned += end;
    let position = bytes.length;
    while (position > 0) {
      const lineEnd = bytes[position - 1] === 0x0a ? position - 1 : position;
      const lineStart = bytes.lastIndexOf(0x0a, lineEnd - 1) + 1;
      const afterLine = position;
      position = lineStart;
      if (++lines % LINES_PER_TURN === 0) await yieldToLoop();
      const line = bytes.toString('utf8', lineStart, lineEnd);
      if (line.length === 0 || isCommitLine(line) || !needles.every((needle) => line.includes(needle))) continue;
      const record = decodeDecisionLine(line);
      if (!record || !matchesDecision(record, Date.parse(record.timestamp), filter)) continue;
      pageBytes += lineEnd - lineStart;
      // The next page starts with this record (the cursor is the offset just after its line).
      if (records.length > 0 && pageBytes > maxPageBytes) return { records, nextCursor: encodeCursor(segment.id, afterLine) };
      records.push(record);
      if (records.length === limit) return { records, nextCursor: encodeCursor(segment.id, lineStart) };
    }
  }
  return { records };
}

/** The first `end` bytes of a file; undefined when the file is gone (deleted by retention meanwhile). */
async function readPrefix(path: string, end: number): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const bytes = Buffer.alloc(end);
    const { bytesRead } = await handle.read(bytes, 0, end, 0);
    return bytes.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function encodeCursor(segment: number, offset: number): string {
  return Buffer.from(`${segment}.${offset}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { segment: number; offset: number } {
  const match = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? /^(\d{1,12})\.(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!match) throw new InputError('invalid_query', "'cursor' must be a nextCursor from an earlier answer", { field: 'cursor' });
  return { segment: Number(match[1]), offset: Number(match[2]) };
}
