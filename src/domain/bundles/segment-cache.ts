/** A compressed segment that was checked to decode to its input after its window. */
export interface CompressedSegment {
  compressed: Buffer;
}

/**
 * Compressed segments by key (their input and window), least recently used dropped first once the
 * compressed bytes held exceed `maxBytes`. Shared by every bundle and build of one packager, so a
 * validation dry run and the activation of the same tree, or two environments on nearby revisions,
 * reuse each other's work.
 */
export class SegmentCache {
  private readonly byKey = new Map<string, CompressedSegment>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): CompressedSegment | undefined {
    const segment = this.byKey.get(key);
    if (segment) {
      this.byKey.delete(key);
      this.byKey.set(key, segment);
    }
    return segment;
  }

  set(key: string, segment: CompressedSegment): void {
    const old = this.byKey.get(key);
    if (old) {
      this.bytes -= old.compressed.length;
      this.byKey.delete(key);
    }
    this.byKey.set(key, segment);
    this.bytes += segment.compressed.length;
    for (const [oldest, value] of this.byKey) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.byKey.delete(oldest);
      this.bytes -= value.compressed.length;
    }
  }

  /** Compressed bytes held. */
  get size(): number {
    return this.bytes;
  }
}
