import { promisify } from 'node:util';
import zlib from 'node:zlib';

/**
 * One gzip stream (a single member, as `opa build` writes) assembled from independently compressed
 * segments, the way pigz does it: each segment is raw deflate of a run of the uncompressed bytes,
 * primed with the 32 KiB that precede it as a preset dictionary, and ended with a sync flush (an empty
 * stored block, byte-aligned, not final). Segments concatenated, then an empty final block, form one
 * deflate stream: an inflater's window before a segment holds exactly the bytes the segment was primed
 * with, so it decodes them the same way. Compression is as good as one pass over the whole stream
 * (the dictionary keeps every back-reference a single pass would have), yet a segment's bytes depend
 * only on its own input and the 32 KiB before it, so they can be cached, and compressed in parallel on
 * libuv's thread pool without blocking the event loop.
 *
 * Deterministic for a given zlib build, level and input: the gzip header is fixed (no name, mtime 0,
 * OS "unknown"), so the same bytes come out on every platform with the same zlib.
 */

/** Deflate's window: a back-reference reaches at most this far. */
export const DEFLATE_WINDOW = 32 * 1024;

/**
 * zlib level, chosen by measurement on the benchmark bundle (1,000 modules and 10 MiB of JSON): level 6
 * is within 1% of `opa build`'s size; level 5 costs 3% and level 4 10% in size for little time saved,
 * since compression runs on the thread pool (see docs/adr/012).
 */
export const GZIP_LEVEL = 6;

const DEFLATE_OPTIONS = { level: GZIP_LEVEL, memLevel: 8, windowBits: 15, strategy: zlib.constants.Z_DEFAULT_STRATEGY } as const;

/** ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown): no name, no time, no platform. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
/** An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/** The empty stored block a sync flush ends with. */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/**
 * A non-final stored block holding one byte ('X'), then the final block. Inflated after a segment,
 * its byte appears only if the segment ended byte-aligned and without a final block; an inflater
 * silently ignores whatever follows a final block, so this is what proves the stream goes on.
 */
const PROBE = Buffer.from([0x00, 0x01, 0x00, 0xfe, 0xff, 0x58, 0x03, 0x00]);

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;
const inflateRaw = promisify(zlib.inflateRaw) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

/** Raw deflate of `raw`, primed with `window` (the bytes before it, at most 32 KiB), ending in a sync flush. */
export async function compressSegment(raw: Buffer, window: Buffer): Promise<Buffer> {
  // One output chunk for the whole segment: each chunk is a round trip from the thread pool to the event loop.
  const chunkSize = Math.max(16 * 1024, raw.length + 1024);
  return deflateRaw(raw, { ...DEFLATE_OPTIONS, chunkSize, finishFlush: zlib.constants.Z_SYNC_FLUSH, ...(window.length > 0 ? { dictionary: window } : {}) });
}

/**
 * True when `compressed`, inflated after `window`, gives exactly `raw` and leaves the stream open
 * (ends byte-aligned with a sync flush, and holds no final block): what it takes for the segment to
 * decode the same way in the middle of the assembled stream.
 */
export async function segmentDecodesTo(compressed: Buffer, window: Buffer, raw: Buffer): Promise<boolean> {
  if (compressed.length < SYNC_MARKER.length || !compressed.subarray(-SYNC_MARKER.length).equals(SYNC_MARKER)) return false;
  let inflated: Buffer;
  try {
    inflated = await inflateRaw(Buffer.concat([compressed, PROBE]), { chunkSize: Math.max(1024, raw.length + 64), maxOutputLength: raw.length + 1, ...(window.length > 0 ? { dictionary: window } : {}) });
  } catch {
    return false;
  }
  return inflated.length === raw.length + 1 && inflated[raw.length] === 0x58 && inflated.subarray(0, raw.length).equals(raw);
}

/** The gzip member: header, the segments, the final block, CRC-32 and size of the uncompressed bytes. */
export function gzipFrame(segments: readonly Buffer[], crc: number, uncompressedLength: number): Buffer {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(uncompressedLength % 2 ** 32, 4);
  return Buffer.concat([GZIP_HEADER, ...segments, FINAL_BLOCK, trailer]);
}

/** CRC-32 (gzip's) of `bytes`, continuing from `previous`. */
export const crc32: (bytes: Buffer, previous?: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (bytes, previous = 0) => (zlib as unknown as { crc32(data: Buffer, value?: number): number }).crc32(bytes, previous)
    : crc32Portable;

let table: Int32Array | undefined;

/** Node 20 before 20.15 has no `zlib.crc32`: the table-driven algorithm. */
export function crc32Portable(bytes: Buffer, previous = 0): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = ~previous;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
