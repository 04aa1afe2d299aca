import type { AgentIdentity } from '../../domain/agents/agent-identity.js';
import type { HeldPollLimit, RefetchPolicy } from '../../http/bundles/bundle-handler.js';
import type { RefetchArgs, ToPrimary, ToWorker } from './cluster-messages.js';

/** A question the primary has not answered within this long fails (the long poll is answered 503). */
const ANSWER_TIMEOUT_MS = 5000;

interface Pending {
  resolve(value: number | null): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A worker's questions to the primary about state every worker shares: the per-agent limit on held long
 * polls and the re-fetch tracker (an agent's connections land on any worker, so one process counts for
 * all). Only long polls and full downloads ask; the unchanged-bundle answer never does.
 */
export class PrimaryChannel {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /**
   * @param send the IPC channel to the primary
   * @param workerId this worker's number, which makes its connection numbers distinct from other workers'
   * @param maxHeldPolls `agents.maxHeldPollsPerAgent`, for the 429's detail
   */
  constructor(private readonly send: (message: ToPrimary) => void, private readonly workerId: number, private readonly maxHeldPolls: number) {}

  /** Routes the primary's answers; false for messages that are not answers. */
  onMessage(message: ToWorker): boolean {
    if (message.type === 'held-acquired') {
      // A slot granted after the question timed out is given back at once.
      if (!this.settle(message.id, message.lease) && message.lease !== null) this.send({ type: 'held-release', lease: message.lease });
    }
    else if (message.type === 'refetch-hold') this.settle(message.id, message.ms);
    else return false;
    return true;
  }

  readonly heldPolls: HeldPollLimit = {
    acquire: (identity: AgentIdentity) => {
      // Anonymous agents are not counted (behind a load balancer they all share one address).
      if (identity.source === 'anonymous') return () => undefined;
      return this.ask((id) => ({ type: 'held-acquire', id, identity })).then((lease) => {
        if (lease === null) return undefined;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          this.send({ type: 'held-release', lease });
        };
      });
    },
    stats: () => ({ max: this.maxHeldPolls }),
  };

  readonly refetches: RefetchPolicy = {
    holdFor: (client, bundle, etag, connection, stale = '') =>
      this.ask((id) => ({ type: 'refetch-hold-for', id, args: this.args(client, bundle, etag, connection, stale) })).then((ms) => ms ?? 0),
    recordSent: (client, bundle, etag, connection, stale = '') => this.later({ sent: this.args(client, bundle, etag, connection, stale) }),
    confirmed: (client, bundle, etag) => this.later({ confirmed: [client, bundle, etag] }),
  };

  /**
   * Events the primary only records, sent once per event-loop turn in one message: a new revision
   * releases thousands of long polls at once, and a message each would keep both processes busy with IPC
   * while the agents wait for their bundles.
   */
  private batch: Array<{ sent: RefetchArgs } | { confirmed: [string, string, string] }> = [];

  private later(event: { sent: RefetchArgs } | { confirmed: [string, string, string] }): void {
    if (this.batch.length === 0) setImmediate(() => this.flush());
    this.batch.push(event);
  }

  private flush(): void {
    const events = this.batch;
    this.batch = [];
    if (events.length > 0) this.send({ type: 'refetch-events', events });
  }

  /** Fails every question still open (the primary is gone). */
  close(): void {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new Error('the primary process is gone'));
      this.pending.delete(id);
    }
  }

  private args(client: string, bundle: string, etag: string, connection: number, stale: string): RefetchArgs {
    return [client, bundle, etag, this.workerId * 2 ** 32 + connection, stale];
  }

  private ask(message: (id: number) => ToPrimary): Promise<number | null> {
    const id = this.nextId++;
    return new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the primary did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.send(message(id));
    });
  }

  private settle(id: number, value: number | null): boolean {
    const entry = this.pending.get(id);
    if (!entry) return false;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.resolve(value);
    return true;
  }
}
