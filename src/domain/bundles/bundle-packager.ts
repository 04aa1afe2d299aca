import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { BuildError } from '../errors.js';
import type { Logger } from '../logger.js';
import { TimeSlice } from '../time-slice.js';
import { MANIFEST_PATH, SIGNATURES_PATH, type Manifest } from './bundle.js';
import type { BundleSigner, FileInfo } from './bundle-signer.js';
import type { BundleVerifier } from './bundle-verifier.js';
import type { CanonicalFormMemo } from './canonical-form-memo.js';
import { canonicalJsonFromValue } from './canonical-json.js';
import { sha256HexAsync } from './digest.js';
import { hashBundleFileAsync } from './file-hash.js';
import { compressSegment, crc32, gzipFrame, segmentDecodesTo } from './gzip-segments.js';
import { SegmentCache, type CompressedSegment } from './segment-cache.js';
import { planSegments, type PlannedSegment } from './segment-plan.js';
import { readTarEntry, tarEntry } from './tar-entry.js';

/** A file to ship: its bundle path, exact bytes, and the SHA-256 of those bytes (OPA's digest: structured files are canonical). */
export interface PackagedFile {
  path: string;
  content: Buffer;
  sha256: string;
}

export interface PackageRequest {
  /** For messages. */
  bundle: string;
  manifest: Manifest;
  /** The files besides `.manifest` and `.signatures.json`, in archive order (bundle paths in byte order). */
  files: readonly PackagedFile[];
  signer: BundleSigner;
  /** The key id agents verify with (their `signing.keyid`). */
  keyId: string;
}

export interface PackagedBundle {
  /** The exact bytes served: one gzip member holding the tar. */
  tarball: Buffer;
  /** Strong ETag: the quoted SHA-256 of `tarball`. */
  etag: string;
  /** Files in the archive, `.manifest` and `.signatures.json` included. */
  fileCount: number;
}

/** What the last `package` call did: segments in the stream, those compressed (not cached), tar entries verified (not cached). */
export interface PackageStats {
  segments: number;
  compressed: number;
  entriesVerified: number;
}

export interface BundlePackagerOptions {
  verifier: BundleVerifier;
  /** Told that the manifests it writes are canonical (the verifier given the same memo does not re-canonicalize them). */
  canonicalForms?: CanonicalFormMemo;
  maxBundleBytes: number;
  /** Bytes of compressed segments kept for later builds (default 64 MiB). */
  maxCachedBytes?: number;
  logger: Logger;
}

/**
 * Segments compressed at once: one core is left to the event loop (a thread pool busy on every core
 * delays the 304s and long polls as much as work on the loop itself would), at least one, at most four
 * (libuv's thread pool size).
 */
const PARALLEL = Math.min(4, Math.max(1, availableParallelism() - 1));

/** A tar entry taken apart once, with OPA's digest of its content: entries are verified once per content. */
interface VerifiedEntry {
  path: string;
  content: Buffer;
}

/**
 * Turns a bundle's files into the signed tarball agents download: one deterministic gzip stream of a
 * tar (files in byte order of their paths, then `.manifest` and `.signatures.json`), see
 * docs/adr/012. Per-file work is cached: each file's tar entry by its content, each compressed segment
 * by its input and the 32 KiB before it, so a one-file change recompresses the segment holding the file
 * and the one after it, not the bundle.
 *
 * Self-verification, incremental with the same guarantee as reading the whole tarball back: the bytes
 * served are the gzip header, the segments, a final block and the trailer, in that order. Every segment
 * (cached or new) was inflated, from its own bytes after exactly the window it follows here, into
 * exactly the tar bytes it stands for, ending byte-aligned and not final; since an inflater decodes a
 * segment from nothing but its bytes and that window, the whole stream inflates to the concatenation of
 * those tar bytes, and the trailer carries their CRC and length. Every tar entry (cached or new) was
 * decoded on its own into a regular file with the expected name and content, and its digest computed
 * by OPA's rule. What changes with every build is checked every time: the archive's entry order and
 * the signature (`BundleVerifier.verifyFiles`, as OPA verifies: key, scope, every file listed with a
 * matching digest and nothing else). A bundle that fails any of it is never published.
 */
export class BundlePackager {
  private readonly entries = new WeakMap<Buffer, Map<string, Buffer>>();
  private readonly verified = new WeakMap<Buffer, VerifiedEntry>();
  private readonly digests = new WeakMap<Buffer, string>();
  private readonly segments: SegmentCache;
  private last: PackageStats = { segments: 0, compressed: 0, entriesVerified: 0 };

  private constructor(private readonly options: BundlePackagerOptions) {
    this.segments = new SegmentCache(options.maxCachedBytes ?? 64 * 1024 * 1024);
  }

  static create(options: BundlePackagerOptions): BundlePackager {
    return new BundlePackager(options);
  }

  /** What the last `package` call did, for benchmarks and tests. */
  get stats(): PackageStats {
    return { ...this.last };
  }

  async package(request: PackageRequest): Promise<PackagedBundle> {
    const slice = new TimeSlice();
    const manifestBytes = Buffer.from(canonicalJsonFromValue(request.manifest), 'utf8');
    const manifestSha = sha256Hex(manifestBytes);
    this.options.canonicalForms?.remember(manifestSha);
    const infos: FileInfo[] = [
      ...request.files.map((file): FileInfo => ({ name: file.path, hash: file.sha256, algorithm: 'SHA-256' })),
      { name: MANIFEST_PATH, hash: manifestSha, algorithm: 'SHA-256' },
    ];
    const signatures = request.signer.signaturesFile(infos);
    const files: PackagedFile[] = [...request.files, { path: MANIFEST_PATH, content: manifestBytes, sha256: manifestSha }, { path: SIGNATURES_PATH, content: signatures, sha256: sha256Hex(signatures) }];

    const entries: Buffer[] = [];
    for (const file of files) {
      entries.push(this.entryOf(file));
      if (slice.due) await slice.pause();
    }
    const plan = planSegments(files, entries);
    this.last = { segments: plan.length, compressed: 0, entriesVerified: 0 };
    // Compression runs on the thread pool while the entries are checked on the event loop.
    const [compressed, shipped] = await Promise.all([this.compress(request.bundle, plan), this.checkedEntries(request.bundle, files, entries, slice)]);
    let crc = 0;
    let length = 0;
    for (const segment of plan) {
      for (const piece of segment.pieces) {
        crc = crc32(piece.bytes, crc);
        length += piece.bytes.length;
      }
    }
    const tarball = gzipFrame(compressed.map((segment) => segment.compressed), crc, length);
    if (tarball.length > this.options.maxBundleBytes) {
      throw new BuildError('bundle_too_large', `bundle '${request.bundle}' is ${tarball.length} bytes; the limit is ${this.options.maxBundleBytes}`, { bundle: request.bundle });
    }
    this.selfVerify(request.bundle, () => this.options.verifier.verifyFiles(shipped, { keyId: request.keyId, knownDigests: this.digests }));
    return { tarball, etag: `"${await sha256HexAsync(tarball)}"`, fileCount: files.length };
  }

  /** The file's tar entry, made once per content and path. */
  private entryOf(file: PackagedFile): Buffer {
    let byPath = this.entries.get(file.content);
    if (!byPath) {
      byPath = new Map();
      this.entries.set(file.content, byPath);
    }
    let entry = byPath.get(file.path);
    if (!entry) {
      entry = tarEntry(file.path, file.content);
      byPath.set(file.path, entry);
    }
    return entry;
  }

  /** Compressed segments in order: cached ones reused, the others compressed and checked on the thread pool. */
  private async compress(bundle: string, plan: readonly PlannedSegment[]): Promise<CompressedSegment[]> {
    const result: Array<CompressedSegment | undefined> = plan.map((segment) => this.segments.get(segment.key));
    const missing = plan.map((_, i) => i).filter((i) => result[i] === undefined);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < missing.length) {
        const i = missing[next++]!;
        const segment = plan[i]!;
        const raw = segment.pieces.length === 1 ? segment.pieces[0]!.bytes : Buffer.concat(segment.pieces.map((piece) => piece.bytes));
        const window = segment.window();
        const bytes = await compressSegment(raw, window);
        if (!(await segmentDecodesTo(bytes, window, raw))) {
          this.options.logger.error({ bundle, segment: i }, 'compressed segment does not decode to its input');
          throw new BuildError('self_verification_failed', `bundle '${bundle}' failed self-verification: compressed segment ${i} does not decode to its input`, { bundle });
        }
        this.last.compressed++;
        const done = { compressed: bytes };
        this.segments.set(segment.key, done);
        result[i] = done;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, missing.length) }, worker));
    return result as CompressedSegment[];
  }

  /** The entries taken apart as a tar reader would, in archive order (see the class comment); once per content. */
  private async checkedEntries(bundle: string, files: readonly PackagedFile[], entries: readonly Buffer[], slice: TimeSlice): Promise<VerifiedEntry[]> {
    const shipped: VerifiedEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      let verified = this.verified.get(entry);
      if (!verified) {
        const read = this.selfVerify(bundle, () => readTarEntry(entry));
        const path = read.name.startsWith('/') ? read.name.slice(1) : read.name;
        if (path !== files[i]!.path) this.selfVerify(bundle, () => { throw new Error(`tar entry ${i} is named '${read.name}', expected '/${files[i]!.path}'`); });
        this.digests.set(read.content, await hashBundleFileAsync(path, read.content, this.options.canonicalForms));
        verified = { path, content: read.content };
        this.verified.set(entry, verified);
        this.last.entriesVerified++;
      }
      // Files in byte order of their paths (ASCII, so code-unit order), each once; manifest and signatures last.
      if (i > 0 && i < entries.length - 2 && shipped[i - 1]!.path >= verified.path) {
        this.selfVerify(bundle, () => { throw new Error(`tar entries out of order: '${shipped[i - 1]!.path}' before '${verified.path}'`); });
      }
      shipped.push(verified);
      if (slice.due) await slice.pause();
    }
    return shipped;
  }

  /** Runs a check; its failure is a `self_verification_failed` BuildError, logged. */
  private selfVerify<T>(bundle: string, check: () => T): T {
    try {
      return check();
    } catch (error) {
      this.options.logger.error({ bundle, err: error }, 'bundle failed self-verification');
      throw new BuildError('self_verification_failed', `bundle '${bundle}' failed self-verification: ${(error as Error).message}`, { bundle }, { cause: error });
    }
  }
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
