import { mkdir, stat, type FileHandle } from 'node:fs/promises';
import { decisionFilterOf } from '../../domain/decisions/decision-filter.js';
import type { DecisionLog, DecisionPage, DecisionQuery, DecisionRecord, DecisionRecorder } from '../../domain/decisions/decision-log.js';
import { segmentMayMatch, SegmentSummaryBuilder, summaryEntryOf, type SegmentSummary, type SummaryEntry } from '../../domain/decisions/segment-summary.js';
import { PayloadTooLargeError, UnavailableError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';
import { commitLine, encodeDecisionLine } from './decision-line-codec.js';
import { querySegments, type ReadableSegment } from './decision-segment-reader.js';
import {
  indexPath, listSegments, openSegmentForAppend, readIndex, removeSegment, scanSegment, segmentPath, syncDirectory, writeIndex,
} from './segment-files.js';

export interface FileDecisionLogOptions {
  /** `<dataDir>/decisions`. */
  dir: string;
  /** A segment is closed and indexed once it is this large. */
  segmentBytes: number;
  /** Bytes kept at most (all segments): the oldest closed segments go first. */
  maxBytes: number;
  /** A closed segment whose last decision was received longer ago than this is deleted. */
  maxAgeMs: number;
  /** Bytes of one stored decision at most (413 `decision_too_large`). */
  maxEventBytes: number;
  /** Bytes one query reads at most before it answers `partial` with a cursor. */
  maxScanBytesPerQuery: number;
  /** Bytes of stored decisions one page holds at most (at least one record): it ends early with a cursor. */
  maxPageBytes: number;
  logger: Logger;
  now?: () => number;
}

/** Counts for `/metrics` and `/status`. */
export interface DecisionLogStats {
  segments: number;
  bytes: number;
  records: number;
  /** When the oldest decision kept was received (ms), or null when none is. */
  oldestReceivedMs: number | null;
  /** Segments deleted by retention since start. */
  segmentsDeleted: number;
  /** fsyncs since start (each acknowledges every batch written before it). */
  syncs: number;
}

interface ClosedSegment {
  id: number;
  size: number;
  summary: SegmentSummary;
}

/** A batch waiting for its group write: its encoded lines and a small summary per record, never the parsed records. */
interface PendingBatch {
  lines: string;
  entries: readonly SummaryEntry[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** How often retention runs besides after each segment is closed. */
const RETENTION_INTERVAL_MS = 60_000;

/**
 * Agents' decisions in rotating JSON-lines segment files under `<dataDir>/decisions/`: appended to the
 * open segment in groups (every batch waiting when a write starts goes into it), each group followed by a
 * commit line and `fdatasync`ed before any of its batches is acknowledged, so a batch answered 2xx survives
 * kill -9 and power loss, and one that was cut short is dropped whole on the next start (OPA re-sends it).
 * A batch whose answer was lost (a crash after the fsync, before the 2xx) is re-sent and stored twice:
 * delivery is at least once, and the copies share their `decision_id`.
 * A full segment is closed: its summary (time range, distinct agents/paths/revisions/results, a Bloom
 * filter of decision ids) is written beside it, so queries skip the segments that cannot match. Retention
 * deletes the oldest closed segments beyond `maxBytes` or `maxAgeMs`.
 */
export class FileDecisionLog implements DecisionLog, DecisionRecorder {
  private readonly closed: ClosedSegment[] = [];
  private queue: PendingBatch[] = [];
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
  private shut = false;
  private commits: number;
  private segmentsDeleted = 0;
  private syncs = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly options: FileDecisionLogOptions,
    private activeId: number,
    private active: FileHandle,
    private activeSize: number,
    private activeSummary: SegmentSummaryBuilder,
    lastCommit: number,
  ) {
    this.commits = lastCommit;
    this.timer = setInterval(() => void this.enforceRetention().catch((error: unknown) => options.logger.error({ err: error }, 'decision-log retention failed')), RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Opens the store: closed segments from their index files (a missing or unreadable index is rebuilt by
   * scanning the segment), the newest segment by scanning it, cutting off a group of lines a crash left
   * without its commit line. Then applies retention once.
   */
  static async open(options: FileDecisionLogOptions): Promise<FileDecisionLog> {
    const { dir } = options;
    const logger = options.logger.child({ component: 'decision-log' });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const ids = await listSegments(dir);
    const closed: ClosedSegment[] = [];
    for (const id of ids.slice(0, -1)) {
      const size = (await stat(segmentPath(dir, id))).size;
      let summary = await readIndex(dir, id);
      if (!summary) {
        const handle = await openSegmentForAppend(dir, id);
        try {
          const scan = await scanSegment(handle, size);
          summary = scan.builder.build();
          if (scan.unreadable > 0) logger.warn({ segment: id, unreadable: scan.unreadable }, 'decision-log segment has unreadable lines; they are skipped');
        } finally {
          await handle.close();
        }
        await writeIndex(dir, id, summary);
        logger.info({ segment: id, index: indexPath(dir, id) }, 'decision-log segment index rebuilt');
      }
      closed.push({ id, size, summary });
    }
    const activeId = ids.at(-1) ?? 1;
    const handle = await openSegmentForAppend(dir, activeId);
    try {
      const { size } = await handle.stat();
      const scan = await scanSegment(handle, size);
      if (scan.committedEnd < size) {
        await handle.truncate(scan.committedEnd);
        await handle.sync();
        logger.warn({ segment: activeId, droppedBytes: size - scan.committedEnd }, 'decision-log: dropped a write a crash cut short (never acknowledged; agents re-send it)');
      }
      if (ids.length === 0) await syncDirectory(dir);
      const log = new FileDecisionLog({ ...options, logger }, activeId, handle, scan.committedEnd, scan.builder, scan.lastCommit);
      log.closed.push(...closed);
      await log.enforceRetention();
      logger.info({ dir, segments: log.closed.length + 1, bytes: log.stats().bytes, records: log.stats().records }, 'decision log opened');
      return log;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Resolves once every record is on disk (written and fdatasynced with the batches that arrived with it);
   * a batch is stored whole or not at all. `decision_too_large` (413) for a record whose line is over
   * `maxEventBytes`, before anything is written; `decision_log_unavailable` (503) when the disk refuses.
   */
  record(records: readonly DecisionRecord[]): Promise<void> {
    if (this.shut) return Promise.reject(new UnavailableError('decision_log_unavailable', 'the decision log is closed (Regent is stopping); re-send the batch'));
    if (this.failure) return Promise.reject(this.unavailable(this.failure));
    const lines: string[] = [];
    const entries: SummaryEntry[] = [];
    for (const [index, record] of records.entries()) {
      const line = encodeDecisionLine(record);
      if (Buffer.byteLength(line) > this.options.maxEventBytes) {
        return Promise.reject(new PayloadTooLargeError('decision_too_large', `decision ${index} is over decisionLogs.maxEventBytes (${this.options.maxEventBytes} bytes) as stored`, { field: `[${index}]`, limit: this.options.maxEventBytes }));
      }
      lines.push(line);
      entries.push(summaryEntryOf(record, Date.parse(record.timestamp), Date.parse(record.receivedAt)));
    }
    if (lines.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ lines: `${lines.join('\n')}\n`, entries, resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  async query(query: DecisionQuery): Promise<DecisionPage> {
    const filter = decisionFilterOf(query);
    const { dir } = this.options;
    const activeSummary = this.activeSummary;
    const segments: ReadableSegment[] = [
      { id: this.activeId, path: segmentPath(dir, this.activeId), end: this.activeSize, mayMatch: (f) => activeSummary.mayMatch(f) },
      ...[...this.closed].reverse().map((segment) => ({ id: segment.id, path: segmentPath(dir, segment.id), end: segment.size, mayMatch: (f: typeof filter) => segmentMayMatch(segment.summary, f) })),
    ];
    return querySegments(segments, { filter, limit: query.limit, cursor: query.cursor, maxScanBytes: this.options.maxScanBytesPerQuery, maxPageBytes: this.options.maxPageBytes });
  }

  stats(): DecisionLogStats {
    const bytes = this.closed.reduce((sum, segment) => sum + segment.size, this.activeSize);
    const records = this.closed.reduce((sum, segment) => sum + segment.summary.records, this.activeSummary.count);
    const oldest = this.closed.find((segment) => segment.summary.records > 0)?.summary.firstReceivedMs ?? this.activeSummary.receivedRange?.first ?? null;
    return { segments: this.closed.length + 1, bytes, records, oldestReceivedMs: oldest, segmentsDeleted: this.segmentsDeleted, syncs: this.syncs };
  }

  /** Deletes the oldest closed segments while over `maxBytes`, and every closed segment older than `maxAgeMs`. */
  enforceRetention(): Promise<void> {
    return this.exclusive(() => this.retain());
  }

  private async retain(): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const { maxBytes, maxAgeMs, dir } = this.options;
    // Room is kept for the open segment to fill, so the store stays within maxBytes (plus, at most, the
    // one group of batches that makes a segment full).
    const budget = maxBytes - Math.max(this.activeSize, Math.min(this.options.segmentBytes, Math.floor(maxBytes / 2)));
    let bytes = this.closed.reduce((sum, segment) => sum + segment.size, 0);
    while (this.closed.length > 0) {
      const oldest = this.closed[0]!;
      const expired = oldest.summary.records > 0 && oldest.summary.lastReceivedMs < now - maxAgeMs;
      if (bytes <= budget && !expired) break;
      this.closed.shift();
      bytes -= oldest.size;
      await removeSegment(dir, oldest.id);
      this.segmentsDeleted++;
      this.options.logger.info({ segment: oldest.id, bytes: oldest.size, records: oldest.summary.records, reason: expired ? 'age' : 'bytes' }, 'decision-log segment deleted (retention)');
    }
    // The open segment ages too: a quiet store closes it, so the next run can delete it.
    const range = this.activeSummary.receivedRange;
    if (!this.shut && range && range.last < now - maxAgeMs) {
      await this.rotate();
      await this.retain();
    }
  }

  /** Runs `fn` after every write, rotation and retention run before it: one at a time touches the files. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Waits for writes in progress, then closes the open segment (unacknowledged batches are refused). */
  async close(): Promise<void> {
    this.shut = true;
    clearInterval(this.timer);
    while (this.flushing) await this.flushing;
    await this.exclusive(() => this.active.close());
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batches = this.queue;
      this.queue = [];
      await this.exclusive(() => this.writeGroup(batches));
    }
  }

  /** Writes every waiting batch as one group with its commit line, fdatasyncs, then acknowledges them all. */
  private async writeGroup(batches: readonly PendingBatch[]): Promise<void> {
    if (this.failure) {
      for (const batch of batches) batch.reject(this.unavailable(this.failure));
      return;
    }
    const sequence = this.commits + 1;
    const bytes = Buffer.from(`${batches.map((batch) => batch.lines).join('')}${commitLine(sequence)}\n`, 'utf8');
    try {
      await this.active.write(bytes, 0, bytes.length, null);
      await this.active.datasync();
      this.syncs++;
    } catch (error) {
      await this.undoWrite(error as Error);
      for (const batch of batches) batch.reject(this.unavailable(error as Error));
      return;
    }
    this.commits = sequence;
    this.activeSize += bytes.length;
    for (const batch of batches) {
      for (const entry of batch.entries) this.activeSummary.addEntry(entry);
    }
    for (const batch of batches) batch.resolve();
    if (this.activeSize >= this.options.segmentBytes) {
      try {
        await this.rotate();
        await this.retain();
      } catch (error) {
        this.options.logger.error({ err: error, segment: this.activeId }, 'decision-log: could not close the full segment; it keeps growing');
      }
    }
  }

  /** Closes the open segment (index written atomically beside it) and starts the next one. */
  private async rotate(): Promise<void> {
    const { dir } = this.options;
    const summary = this.activeSummary.build();
    await writeIndex(dir, this.activeId, summary);
    const next = await openSegmentForAppend(dir, this.activeId + 1);
    await syncDirectory(dir);
    await this.active.close();
    this.closed.push({ id: this.activeId, size: this.activeSize, summary });
    this.activeId++;
    this.active = next;
    this.activeSize = 0;
    this.activeSummary = new SegmentSummaryBuilder();
  }

  /** A failed write may have left part of a group: cut the file back to its last commit, or stop writing. */
  private async undoWrite(error: Error): Promise<void> {
    try {
      await this.active.truncate(this.activeSize);
      await this.active.datasync();
      this.options.logger.error({ err: error, segment: this.activeId }, 'decision-log write failed; the batches were refused (agents re-send them)');
    } catch (truncateError) {
      this.failure = error;
      this.options.logger.error({ err: error, truncateError, segment: this.activeId }, 'decision-log write failed and could not be undone; decision batches are refused until restart');
    }
  }

  private unavailable(cause: Error): UnavailableError {
    const full = (cause as NodeJS.ErrnoException).code === 'ENOSPC' || (cause as NodeJS.ErrnoException).code === 'EDQUOT';
    return new UnavailableError('decision_log_unavailable', full ? 'the decision log cannot be written: no space left on the data directory' : 'the decision log cannot be written; the batch was not stored (re-send it)', { retryAfterSeconds: 5 }, { cause });
  }
}
