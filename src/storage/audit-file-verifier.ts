import { open } from 'node:fs/promises';
import { scanAuditFile, type ChainBreak } from './audit-file-scanner.js';

/** What {@link verifyAuditFile} found. */
export interface AuditFileVerification {
  ok: boolean;
  /** Complete lines read. */
  lines: number;
  /** Lines that are records. */
  records: number;
  /** Highest `seq` seen (0 for an empty log). */
  lastSeq: number;
  firstAt?: string;
  lastAt?: string;
  broken?: ChainBreak;
}

/**
 * Checks every link of an audit log file (`<dataDir>/audit/audit.jsonl`) without opening it for writing
 * or taking the data directory's lock, so it runs offline on a copy or beside a running Regent. The
 * same scanner Regent runs at start-up; a last line without its newline counts as a break here (Regent
 * moves such a line aside at its next start).
 */
export async function verifyAuditFile(path: string): Promise<AuditFileVerification> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    let records = 0;
    let firstAt: string | undefined;
    let lastAt: string | undefined;
    const scan = await scanAuditFile(handle, size, {
      tornTail: false,
      onRecord: (record) => {
        records += 1;
        firstAt ??= record.at;
        lastAt = record.at;
      },
    });
    const result: AuditFileVerification = { ok: scan.broken === undefined, lines: scan.lines, records, lastSeq: scan.maxSeq };
    if (firstAt !== undefined) result.firstAt = firstAt;
    if (lastAt !== undefined) result.lastAt = lastAt;
    if (scan.broken) result.broken = scan.broken;
    return result;
  } finally {
    await handle.close();
  }
}
