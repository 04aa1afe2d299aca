import { open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SegmentSummaryBuilder, segmentSummaryFrom, type SegmentSummary } from '../../domain/decisions/segment-summary.js';
import { writeFileAtomic } from '../atomic-file.js';
import { decodeDecisionLine, isCommitLine } from './decision-line-codec.js';

/** `segment-<12 digits>.jsonl`, its index beside it as `segment-<12 digits>.index.json`. */
const SEGMENT = /^segment-(\d{12})\.jsonl$/;

export function segmentPath(dir: string, id: number): string {
  return join(dir, `segment-${String(id).padStart(12, '0')}.jsonl`);
}

export function indexPath(dir: string, id: number): string {
  return join(dir, `segment-${String(id).padStart(12, '0')}.index.json`);
}

/** The segment ids in `dir`, oldest first. */
export async function listSegments(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names.flatMap((name) => {
    const match = SEGMENT.exec(name);
    return match ? [Number(match[1])] : [];
  }).sort((a, b) => a - b);
}

/** A closed segment's index, or undefined when it is missing or unreadable (then the segment is scanned). */
export async function readIndex(dir: string, id: number): Promise<SegmentSummary | undefined> {
  try {
    return segmentSummaryFrom(JSON.parse(await readFile(indexPath(dir, id), 'utf8')));
  } catch {
    return undefined;
  }
}

export async function writeIndex(dir: string, id: number, summary: SegmentSummary): Promise<void> {
  await writeFileAtomic(indexPath(dir, id), JSON.stringify(summary));
}

export async function removeSegment(dir: string, id: number): Promise<void> {
  await rm(indexPath(dir, id), { force: true });
  await rm(segmentPath(dir, id), { force: true });
}

/** What {@link scanSegment} found: the summary of the committed records, where they end, and what it skipped. */
export interface SegmentScan {
  builder: SegmentSummaryBuilder;
  /** Bytes up to the end of the last commit line: everything after it was never acknowledged. */
  committedEnd: number;
  /** Lines that are neither a record nor a commit line (corruption), skipped. */
  unreadable: number;
  /** The highest commit sequence seen (0 when none). */
  lastCommit: number;
}

/**
 * Reads a segment file line by line from the start: records are summarized once the commit line after
 * them is read, so a group of lines a crash cut short is neither summarized nor counted in `committedEnd`.
 */
export async function scanSegment(handle: FileHandle, size: number): Promise<SegmentScan> {
  const builder = new SegmentSummaryBuilder();
  const bytes = Buffer.alloc(size);
  if (size > 0) await handle.read(bytes, 0, size, 0);
  let pending: Array<{ record: NonNullable<ReturnType<typeof decodeDecisionLine>> }> = [];
  let committedEnd = 0;
  let unreadable = 0;
  let lastCommit = 0;
  let start = 0;
  while (start < size) {
    const end = bytes.indexOf(0x0a, start);
    if (end < 0) break;
    const line = bytes.toString('utf8', start, end);
    start = end + 1;
    if (isCommitLine(line)) {
      for (const { record } of pending) builder.add(record, Date.parse(record.timestamp), Date.parse(record.receivedAt));
      pending = [];
      committedEnd = start;
      lastCommit = Math.max(lastCommit, Number(/\d+/.exec(line)?.[0] ?? 0));
      continue;
    }
    const record = decodeDecisionLine(line);
    if (record) pending.push({ record });
    else unreadable++;
  }
  return { builder, committedEnd, unreadable, lastCommit };
}

export async function openSegmentForAppend(dir: string, id: number): Promise<FileHandle> {
  return open(segmentPath(dir, id), 'a+', 0o600);
}

/** fsyncs a directory, so a file created or removed in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
