import type { Revision } from '../../store/policy-store.js';

/**
 * A delta bundle (OPA's `patch.json`, served when the agent's `Prefer` lists `modes=...delta`): what turns
 * the agent's state at the snapshot `from` into the state of `revision`'s snapshot.
 */
export interface BuiltDelta {
  /** The snapshot ETag of the revision the delta applies to. */
  from: string;
  revision: Revision;
  /** The exact bytes served: `patch.json`, `.manifest`, `.signatures.json` in one gzip member. */
  tarball: Buffer;
  /** See `deltaEtag`: names the target snapshot, so the agent's next request is understood. */
  etag: string;
  /** Patch operations in `patch.json`. */
  operations: number;
}
