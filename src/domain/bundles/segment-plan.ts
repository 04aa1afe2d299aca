import { createHash } from 'node:crypto';
import type { PackagedFile } from './bundle-packager.js';
import { DEFLATE_WINDOW, GZIP_LEVEL } from './gzip-segments.js';
import { TAR_TRAILER } from './tar-entry.js';

/** Largest run of tar bytes compressed as one segment; a file larger than this is split into several. */
const MAX_SEGMENT = 256 * 1024;
/**
 * Small files are grouped into one segment of at least a window's size (so a change reaches into the
 * next segment's window, not the one after it), ended after a file whose path hashes to 0 modulo this.
 */
const GROUP_SPREAD = 8;

/** A run of tar bytes with a stable identity (from the file's path and digest), so equal runs are recognised across builds. */
export interface Piece {
  id: string;
  bytes: Buffer;
}

export interface PlannedSegment {
  pieces: Piece[];
  /** The bytes before the segment, at most 32 KiB: what it is compressed (and decoded) after. */
  window: () => Buffer;
  key: string;
}

/**
 * Cuts the tar stream (entries, then the end-of-archive marker) into segments at stable places: a file
 * larger than a segment is cut into segments of its own; small files are grouped, and a group of at
 * least 32 KiB ends after a file whose path hashes to 0 (or when it reaches a segment's size), so a
 * changed file does not move the cuts elsewhere. `.manifest` and `.signatures.json`, which change with
 * every revision, end the stream in a segment of their own. A segment's key names its pieces and those
 * of its window (and the zlib level): equal keys mean equal input after equal bytes.
 */
export function planSegments(files: readonly PackagedFile[], entries: readonly Buffer[]): PlannedSegment[] {
  const pieces: Piece[] = [];
  const starts: number[] = [];
  let groupBytes = 0;
  const cut = (): void => {
    if (starts[starts.length - 1] !== pieces.length && pieces.length > 0) starts.push(pieces.length);
    groupBytes = 0;
  };
  starts.push(0);
  const bodyCount = files.length - 2;
  for (let i = 0; i < bodyCount; i++) {
    const file = files[i]!;
    const entry = entries[i]!;
    const id = `${file.path}\0${file.sha256}`;
    if (entry.length > MAX_SEGMENT) {
      cut();
      for (let offset = 0; offset < entry.length; offset += MAX_SEGMENT) {
        pieces.push({ id: `${id}\0${offset}`, bytes: entry.subarray(offset, offset + MAX_SEGMENT) });
        cut();
      }
      continue;
    }
    pieces.push({ id, bytes: entry });
    groupBytes += entry.length;
    if (groupBytes >= MAX_SEGMENT || (groupBytes >= DEFLATE_WINDOW && fnv1a(file.path) % GROUP_SPREAD === 0)) cut();
  }
  cut();
  for (let i = bodyCount; i < files.length; i++) pieces.push({ id: `${files[i]!.path}\0${files[i]!.sha256}`, bytes: entries[i]! });
  pieces.push({ id: 'end-of-archive', bytes: Buffer.alloc(TAR_TRAILER.length) });
  if (starts[starts.length - 1] === pieces.length) starts.pop();

  return starts.map((start, s) => {
    const end = starts[s + 1] ?? pieces.length;
    // The window: the pieces that hold the last 32 KiB before the segment.
    let first = start;
    let windowBytes = 0;
    while (first > 0 && windowBytes < DEFLATE_WINDOW) windowBytes += pieces[--first]!.bytes.length;
    const windowPieces = pieces.slice(first, start);
    const segmentPieces = pieces.slice(start, end);
    const key = createHash('sha256')
      .update(`${GZIP_LEVEL}\n${windowPieces.map((piece) => piece.id).join('\n')}\n\n${segmentPieces.map((piece) => piece.id).join('\n')}`)
      .digest('hex');
    const window = (): Buffer => {
      const bytes = Buffer.concat(windowPieces.map((piece) => piece.bytes));
      return bytes.length > DEFLATE_WINDOW ? bytes.subarray(bytes.length - DEFLATE_WINDOW) : bytes;
    };
    return { pieces: segmentPieces, window, key };
  });
}

/** FNV-1a over the UTF-16 code units: a fast, stable hash for placing group cuts. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

