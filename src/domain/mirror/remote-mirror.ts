/**
 * The port to the Git host the store mirrors (remote mode). Implemented by `src/git/git-remote-mirror.ts`;
 * the domain schedules syncs, records their outcome and decides what an admin may accept.
 */
import type { Revision } from '../store/policy-store.js';

/**
 * What one sync found after fetching the remote branch into a private ref:
 * - `up_to_date`: the remote tip is head;
 * - `fast_forwarded`: the remote tip descends from head, and head was moved to it (compare-and-swap);
 * - `diverged`: the remote tip does not descend from head (force-push, rewritten history): head stays;
 * - `missing_ref`: the remote has no such branch: head stays.
 */
export type SyncOutcome = 'up_to_date' | 'fast_forwarded' | 'diverged' | 'missing_ref';

export interface SyncResult {
  outcome: SyncOutcome;
  /** The fetched tip of the remote branch (absent for `missing_ref`). */
  remoteTip?: Revision;
  /** Head before the sync. */
  previousHead?: Revision;
  /** Head after the sync. */
  head?: Revision;
}

export interface AcceptResult {
  previousHead?: Revision;
  head: Revision;
  /** Where the replaced history is kept (`refs/regent/archive/...`), so nothing is lost. */
  archiveRef?: string;
}

export interface RemoteMirror {
  /**
   * The remote as it may be shown (credentials redacted), the remote branch, and whether it is reached
   * over plain http (allowed only by an explicit setting; shown in `/status` so nobody forgets it).
   */
  readonly description: { url: string; branch: string; insecureHttp: boolean };
  /**
   * Fetches the remote branch (with a timeout) and fast-forwards the tracked branch when it can.
   * Rejects when the remote cannot be reached or read; the store is then unchanged.
   */
  sync(): Promise<SyncResult>;
  /**
   * Moves the tracked branch to `remoteTip`, the last fetched tip, even though it does not descend from
   * head; the old head stays reachable under the returned archive ref. `PreconditionFailedError`
   * `remote_tip_changed` (details.remoteTip) when the last fetched tip is not `remoteTip`.
   */
  accept(remoteTip: Revision): Promise<AcceptResult>;
}
