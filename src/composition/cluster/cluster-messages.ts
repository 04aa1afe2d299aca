import type { AddressInfo } from 'node:net';
import type { RegentConfig } from '../../config/schema.js';
import type { AgentIdentity } from '../../domain/agents/agent-identity.js';
import type { ReplicatedRevision } from '../../http/bundles/replica-catalog.js';
import type { BundleCountersDelta } from '../../http/bundles/bundle-counters.js';

/**
 * The IPC messages between the primary and its worker processes (node:cluster, `serialization:
 * 'advanced'`, so bundle bytes travel as Buffers). A bundle set is named by its environment, `''` for the
 * tracked branch's.
 */
export type ToWorker =
  /** First message: what to serve, where to listen, where the primary answers the rest. */
  | { type: 'init'; config: Readonly<RegentConfig>; port: number; primarySocket: string; sets: Array<{ set: string; revision?: ReplicatedRevision; staged?: ReplicatedRevision }> }
  /** Phase one: stage `revision` (keep serving the previous one), answer `prepared`. */
  | { type: 'prepare'; round: number; set: string; revision: ReplicatedRevision }
  /** Phase two: every worker holds the revision; serve it and release the long polls held on older ones. */
  | { type: 'release'; set: string }
  | { type: 'held-acquired'; id: number; lease: number | null }
  | { type: 'refetch-hold'; id: number; ms: number }
  /** SIGHUP on the primary: read the agent tokens file again. */
  | { type: 'reload' }
  /** Stop accepting, answer held long polls, exit. */
  | { type: 'shutdown' };

export type RefetchArgs = [client: string, bundle: string, etag: string, connection: number, stale: string];

export type ToPrimary =
  /** The worker listens for messages (IPC messages sent before that are lost): send `init`. */
  | { type: 'ready' }
  | { type: 'listening'; address: AddressInfo }
  | { type: 'prepared'; round: number }
  /**
   * Every second: long polls the worker holds now (all sets), for `/status` → `workers.longPollWaiters`,
   * and what its bundle endpoint answered since the last report, added to the primary's `/metrics`.
   */
  | { type: 'stats'; longPollWaiters: number; bundles?: BundleCountersDelta }
  /** A long poll of `identity` wants a slot of its per-agent limit (`agents.maxHeldPollsPerAgent`). */
  | { type: 'held-acquire'; id: number; identity: AgentIdentity }
  | { type: 'held-release'; lease: number }
  | { type: 'refetch-hold-for'; id: number; args: RefetchArgs }
  /** What the re-fetch tracker records (bundles sent, ETags confirmed), batched per event-loop turn, in order. */
  | { type: 'refetch-events'; events: Array<{ sent: RefetchArgs } | { confirmed: [client: string, bundle: string, etag: string] }> };

/** Whether `value` looks like a message of this protocol (IPC also carries node:cluster's own). */
export function isClusterMessage(value: unknown): value is { type: string } {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
