import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditChainState, AuditLog, AuditQuery, AuditRecord, AuditRecordInput } from '../domain/audit/audit-log.js';
import { InputError, UnavailableError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { AuditIndexQuery } from './audit-log-index.js';
import { AuditLogIndex } from './audit-log-index.js';
import { scanAuditFile } from './audit-file-scanner.js';
import { decodeAuditLine, lineHash, sanitizeAuditInput } from './audit-record-codec.js';

/** Page size of {@link FileAuditLog.query} without `limit`. */
export const DEFAULT_AUDIT_LIMIT = 50;
/** Largest page {@link FileAuditLog.query} returns. */
export const MAX_AUDIT_LIMIT = 500;

/** What opening a log whose hash chain is broken does (`audit.onBrokenChain`). */
export type BrokenChainPolicy = 'refuse' | 'read-only';

/** Options of {@link FileAuditLog.open}. */
export interface OpenFileAuditLogOptions {
  logger?: Logger;
  /** Clock for `at`; default the system clock. */
  now?: () => Date;
  /**
   * A broken chain found on open: `refuse` throws `audit_chain_broken` (naming the file and line), so
   * the process does not start; `read-only` (default) opens the log for reading only, every append
   * rejecting with the same code.
   */
  onBrokenChain?: BrokenChainPolicy;
  /** How the file is named in reports ({@link FileAuditLog.chain}); default its path. */
  name?: string;
}

/** Result of {@link FileAuditLog.verify}. */
export interface AuditVerification {
  ok: boolean;
  /** Complete lines in the log. */
  records: number;
  /** 1-based line where the chain first fails: that line, or the one before it, is not what was written. */
  brokenAt?: number;
  reason?: string;
}

const NEWLINE = Buffer.from('\n');

/**
 * The audit trail as an append-only, hash-chained JSON-lines file in the data directory (security.md
 * §2.13): each line is `{seq, at, prev, ...input}`, `prev` being the SHA-256 of the previous line's bytes,
 * so editing, dropping or reordering any line but the last breaks {@link verify}. Git history alone can be
 * rewritten by anyone who can write the data directory; this file can too, but not without showing it.
 *
 * Appends are serialized and each resolves only after its line is written with `O_APPEND` and
 * `fdatasync`ed, so an answered request is on disk. One process owns the file (the data directory lock).
 * On open the whole file is read back and checked. A crash can only tear the line being appended, so a
 * last line without its newline (or with NUL bytes, a block the disk never wrote) is a crash artefact:
 * it is moved aside to `<path>.torn-<time>` and appending continues. Anything else that breaks the
 * chain (an edited, deleted, reordered or garbled line) is tampering or corruption: depending on
 * `onBrokenChain` the open fails, or the log opens read-only, reports the break in {@link chain}, and
 * refuses every append, so nothing is ever appended after a break unnoticed. Queries use a compact
 * in-memory index and read matching lines back from the file.
 */
export class FileAuditLog implements AuditLog {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Set when a failed write could not be undone: the file's end is unknown, so nothing more is appended. */
  private failure: Error | undefined;

  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private readonly index: AuditLogIndex,
    private readonly logger: Logger,
    private readonly now: () => Date,
    private size: number,
    private lastHash: string,
    private nextSeq: number,
    private readonly chainState: AuditChainState,
  ) {}

  /** Opens (creating, mode 0600) the log at `path`, recovering a torn last line and checking the chain. */
  static async open(path: string, options: OpenFileAuditLogOptions = {}): Promise<FileAuditLog> {
    const logger = (options.logger ?? SILENT_LOGGER).child({ component: 'audit-log' });
    await mkdir(dirname(path), { recursive: true });
    const existed = await stat(path).then(() => true, () => false);
    const handle = await open(path, 'a+', 0o600);
    try {
      if (!existed) await syncDirectory(dirname(path));
      const index = new AuditLogIndex();
      const { size } = await handle.stat();
      const scan = await scanAuditFile(handle, size, { tornTail: true, onRecord: (record, offset, length) => index.add(record, offset, length) });
      const name = options.name ?? path;
      if (scan.broken) {
        const { line, seq, reason } = scan.broken;
        logger.error({ path, line, seq, reason }, 'audit log hash chain is broken');
        if ((options.onBrokenChain ?? 'read-only') === 'refuse') {
          throw new UnavailableError('audit_chain_broken', `the audit log ${path} is broken at line ${line}${seq === null ? '' : ` (seq ${seq})`}: ${reason}. This line or the one before it is not what Regent wrote. Keep the file as evidence and investigate; to run meanwhile, set audit.onBrokenChain: read-only (writes refused), or move the file aside to start a new log`, { file: name, line, seq });
        }
      }
      if (scan.torn) await moveTornTail(handle, path, scan.torn.offset, size, logger);
      logger.info({ path, records: scan.lines, lastHash: scan.lastHash }, 'audit log opened');
      const chainState: AuditChainState = scan.broken
        ? { chain: 'broken', brokenAt: { file: name, line: scan.broken.line, seq: scan.broken.seq, reason: scan.broken.reason } }
        : { chain: 'ok', brokenAt: null };
      return new FileAuditLog(path, handle, index, logger, options.now ?? (() => new Date()), scan.end, scan.lastHash, scan.maxSeq + 1, chainState);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Resolves with the record once its line is durable; appends run one at a time, in call order. */
  append(input: AuditRecordInput): Promise<AuditRecord> {
    if (this.closed) return Promise.reject(new Error(`the audit log ${this.path} is closed`));
    const broken = this.chainState.brokenAt;
    if (broken) {
      return Promise.reject(new UnavailableError('audit_chain_broken', `the audit log is read-only: its hash chain is broken at ${broken.file} line ${broken.line}, and nothing is appended after a break`, { file: broken.file, line: broken.line, seq: broken.seq }));
    }
    const run = this.tail.then(() => this.write(input));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Newest first; see {@link AuditQuery}. `since` and `until` are inclusive; `path` matches a file or a directory. */
  async query(query: AuditQuery = {}): Promise<{ records: AuditRecord[]; nextBefore?: number }> {
    this.assertOpen();
    const limit = query.limit ?? DEFAULT_AUDIT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
      throw new InputError('invalid_query', `limit must be an integer from 1 to ${MAX_AUDIT_LIMIT}`, { field: 'limit' });
    }
    const positions = this.index.find(toIndexQuery(query), limit + 1);
    const records = await Promise.all(positions.slice(0, limit).map((position) => this.readRecord(position)));
    const last = records[records.length - 1];
    return positions.length > limit && last ? { records, nextBefore: last.seq } : { records };
  }

  /** The chain as found on open: `ok`, or `broken` with the file, line, seq and reason of the first break. */
  chain(): AuditChainState {
    return { chain: this.chainState.chain, brokenAt: this.chainState.brokenAt ? { ...this.chainState.brokenAt } : null };
  }

  /**
   * Reads the whole file again and checks every link, plus that the last line is still the one this
   * process wrote or read last (which catches an edit of the last line, the one the chain cannot).
   */
  async verify(): Promise<AuditVerification> {
    this.assertOpen();
    const [end, expectedLastHash] = [this.size, this.lastHash];
    const scan = await scanAuditFile(this.handle, end, { tornTail: false });
    const broken = scan.broken ?? (scan.lastHash === expectedLastHash ? undefined : { line: scan.lines, reason: 'the last line is not the one last written' });
    return broken ? { ok: false, records: scan.lines, brokenAt: broken.line, reason: broken.reason } : { ok: true, records: scan.lines };
  }

  /** Lets appends already made finish, then closes the file; later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.handle.close();
  }

  private async write(input: AuditRecordInput): Promise<AuditRecord> {
    if (this.failure) throw new Error(`the audit log ${this.path} is unusable after a failed write`, { cause: this.failure });
    const record: AuditRecord = { seq: this.nextSeq, at: this.now().toISOString(), prev: this.lastHash, ...sanitizeAuditInput(input) };
    const line = Buffer.from(JSON.stringify(record));
    const offset = this.size;
    try {
      await writeFully(this.handle, Buffer.concat([line, NEWLINE]));
      await this.handle.datasync();
    } catch (error) {
      await this.undoWrite(offset, error);
      throw new Error(`audit record ${record.seq} could not be written to ${this.path}`, { cause: error });
    }
    this.size = offset + line.length + 1;
    this.lastHash = lineHash(line);
    this.nextSeq += 1;
    this.index.add(record, offset, line.length);
    return record;
  }

  /** Cuts a partly written line off again so the next append starts on a clean line. */
  private async undoWrite(offset: number, cause: unknown): Promise<void> {
    try {
      await this.handle.truncate(offset);
      await this.handle.datasync();
      this.logger.error({ err: cause, path: this.path }, 'audit record not written');
    } catch (error) {
      this.failure = error as Error;
      this.logger.error({ err: error, cause, path: this.path }, 'audit log unusable: a failed write could not be undone');
    }
  }

  private async readRecord(position: number): Promise<AuditRecord> {
    const { seq, offset, length } = this.index.location(position);
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await this.handle.read(buffer, read, length - read, offset + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    const record = decodeAuditLine(buffer.toString('utf8', 0, read));
    if (record?.seq !== seq) throw new Error(`audit record ${seq} in ${this.path} changed on disk after it was read`);
    return record;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`the audit log ${this.path} is closed`);
  }
}

function toIndexQuery(query: AuditQuery): AuditIndexQuery {
  const time = (value: string | undefined, field: string): number | undefined => {
    if (value === undefined) return undefined;
    const ms = Date.parse(value);
    if (!Number.isFinite(ms)) throw new InputError('invalid_query', `${field} must be an ISO 8601 time`, { field });
    return ms;
  };
  if (query.before !== undefined && (!Number.isSafeInteger(query.before) || query.before < 1)) {
    throw new InputError('invalid_query', 'before must be a positive integer', { field: 'before' });
  }
  const path = query.path?.replace(/\/+$/, '');
  if (path === '') throw new InputError('invalid_query', 'path must name a file or directory', { field: 'path' });
  return {
    subject: query.subject, path, action: query.action, before: query.before,
    sinceMs: time(query.since, 'since'), untilMs: time(query.until, 'until'),
  };
}

async function writeFully(handle: FileHandle, data: Buffer): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written);
    written += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Copies the bytes from `offset` to `<path>.torn-<time>` (synced), then truncates them off the log. */
async function moveTornTail(handle: FileHandle, path: string, offset: number, size: number, logger: Logger): Promise<void> {
  const tornPath = `${path}.torn-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const torn = await open(tornPath, 'wx', 0o600);
  try {
    const buffer = Buffer.allocUnsafe(64 * 1024);
    for (let position = offset; position < size;) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
      if (bytesRead === 0) break;
      await writeFully(torn, buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    await torn.sync();
  } finally {
    await torn.close();
  }
  await syncDirectory(dirname(path));
  await handle.truncate(offset);
  await handle.sync();
  logger.warn({ path, tornPath, bytes: size - offset }, 'torn last line of the audit log moved aside');
}

const SILENT_LOGGER: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => SILENT_LOGGER };
