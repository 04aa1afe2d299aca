import { gzipSync, constants as zlibConstants } from 'node:zlib';
import { pack } from 'tar-stream';

/**
 * Deterministic bundle tarballs, written as a multi-member gzip stream: every tar entry is its own gzip
 * member, followed by one member holding the end-of-archive blocks. Concatenated gzip members are one
 * valid gzip stream (RFC 1952 §2.2); Go's `gzip.Reader`, which OPA uses, reads them as one by default.
 * The gain: an entry's compressed bytes depend only on its name and content, so a build after a one-file
 * change recompresses one file and concatenates cached members, instead of recompressing the bundle.
 *
 * Headers are fixed (mtime 0, uid/gid 0, empty owner names, mode 0644, regular files only), so the same
 * files give the same bytes on every build, process and machine with the same zlib.
 */

const FIXED_MTIME = new Date(0);
const GZIP_OPTIONS = { level: zlibConstants.Z_DEFAULT_COMPRESSION, memLevel: 8, windowBits: 15 } as const;

/** The tar entry name OPA's own `opa build` writes: the bundle path with one leading `/`. */
export function tarEntryName(path: string): string {
  return `/${path}`;
}

/** The tar bytes (header, content, padding) of one regular-file entry, without the archive trailer. */
export async function packTarEntry(path: string, content: Buffer): Promise<Buffer> {
  const stream = pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  stream.entry(
    { name: tarEntryName(path), size: content.length, mode: 0o644, mtime: FIXED_MTIME, uid: 0, gid: 0, uname: '', gname: '', type: 'file' },
    content,
  );
  stream.finalize();
  await collected;
  const all = Buffer.concat(chunks);
  // finalize() appends two zero blocks as the end-of-archive marker; the trailer member adds them once.
  return all.subarray(0, all.length - 1024);
}

/** One gzip member holding `bytes`. */
export function gzipMember(bytes: Buffer): Buffer {
  return gzipSync(bytes, GZIP_OPTIONS);
}

/** A tar entry already compressed as one gzip member. */
export async function compressedTarEntry(path: string, content: Buffer): Promise<Buffer> {
  return gzipMember(await packTarEntry(path, content));
}

const TRAILER_MEMBER = gzipMember(Buffer.alloc(1024));

/** Concatenates compressed entries (already in archive order) and the end-of-archive member. */
export function assembleTarball(compressedEntries: readonly Buffer[]): Buffer {
  return Buffer.concat([...compressedEntries, TRAILER_MEMBER]);
}
