import { createHash } from 'node:crypto';

/**
 * A delta's ETag: `"<target snapshot digest>.delta.<delta digest>"`. Unique and stable like a snapshot's
 * (the delta's bytes are a pure function of the two revisions), and it names the snapshot the agent's
 * state equals once the delta is applied: OPA sends it back as `If-None-Match`, and any replica reads
 * from it which revision the agent holds, whether or not that replica built the delta itself.
 */
const DELTA_ETAG = /^"([0-9a-f]{64})\.delta\.[0-9a-f]{64}"$/;

export function deltaEtag(targetSnapshotEtag: string, tarball: Buffer): string {
  return `"${targetSnapshotEtag.slice(1, -1)}.delta.${createHash('sha256').update(tarball).digest('hex')}"`;
}

/** The snapshot ETag an entity-tag stands for: itself, or for a delta's tag the snapshot it leads to. */
export function snapshotEtagOf(tag: string): string {
  const match = DELTA_ETAG.exec(tag);
  return match ? `"${match[1]}"` : tag;
}
