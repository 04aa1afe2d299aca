import { compressSegment, crc32, gzipFrame } from './gzip-segments.js';
import { TAR_TRAILER, tarEntry } from './tar-entry.js';

/**
 * A tar.gz of `files`, in the order given, the way bundles are written (fixed headers, names with a
 * leading `/`, one gzip member), without the builder's caching or checks: for taking a bundle apart
 * and putting it back together (tests, tools). Bundles themselves are written by `BundlePackager`.
 */
export async function writeTarball(files: ReadonlyArray<{ path: string; content: Buffer }>): Promise<Buffer> {
  const tar = Buffer.concat([...files.map((file) => tarEntry(file.path, file.content)), TAR_TRAILER]);
  return gzipFrame([await compressSegment(tar, Buffer.alloc(0))], crc32(tar), tar.length);
}
