import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RegentConfig } from '../../config/schema.js';
import type { PublishedRevision } from '../../domain/activation/bundle-publisher.js';
import type { RefetchTracker } from '../../domain/fleet/refetch-tracker.js';
import type { Logger } from '../../domain/logger.js';
import type { BundleCounters } from '../../http/bundles/bundle-counters.js';
import type { HeldPollsPerAgent } from '../../http/bundles/held-polls.js';
import { replicatedRevisionOf, type ReplicatedRevision } from '../../http/bundles/replica-catalog.js';
import { isClusterMessage, type ToPrimary, type ToWorker } from './cluster-messages.js';

export interface WorkerPoolOptions {
  count: number;
  config: Readonly<RegentConfig>;
  logger: Logger;
  /** The per-agent limit on held long polls, counted here for every worker. */
  heldPolls: HeldPollsPerAgent;
  /** The re-fetch tracker, kept here for every worker (an agent's connections land on any of them). */
  refetches: RefetchTracker;
  /** A worker that has not acknowledged a revision this long after it was sent is killed and replaced. */
  ackTimeoutMs?: number;
}

export interface WorkerPoolStats {
  configured: number;
  /** Workers listening now. */
  live: number;
  /** Long polls the workers held at their last reports (each second). */
  longPollWaiters: number;
  /** Workers replaced since start (died, or too slow to take a revision in). */
  replaced: number;
  ackTimeouts: number;
}

interface Member {
  worker: Worker;
  /** Held-poll slots it holds, by lease: given back when it dies. */
  leases: Map<number, () => void>;
  /** Whether it has its first message (`init`): it takes part in replication from then on. */
  initialized: boolean;
  listening?: AddressInfo;
  /** Long polls it held at its last report. */
  longPollWaiters: number;
}

interface Round {
  waiting: Set<number>;
  done: () => void;
}

/** Replacements started in a minute before they are spaced out (a worker that dies at once must not spin). */
const RESTARTS_PER_MINUTE = 10;
const RESTART_DELAY_MS = 5000;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * The primary's worker processes (node:cluster): they share the public port and serve `/bundles/...`
 * from their copy of the catalog; everything else they pass to the primary. Every activated revision is
 * replicated in two phases: {@link prepare} has every worker stage it and waits for each one's
 * acknowledgement (one that does not answer within `ackTimeoutMs` is killed and replaced), then the
 * primary swaps its own catalog and {@link release} tells every worker to serve it and release its long polls. So no
 * agent is sent revision N+1 by one worker while another would still send it N. A new worker gets the
 * newest revision of every set before it listens. A worker that dies is replaced, at most
 * {@link RESTARTS_PER_MINUTE} a minute at once, then one every {@link RESTART_DELAY_MS}.
 */
export class WorkerPool {
  private readonly members = new Map<number, Member>();
  /** Per set, the revision every worker serves (released). */
  private readonly released = new Map<string, ReplicatedRevision>();
  /** Per set, the revision of a round not released yet: a worker that joins meanwhile stages it too. */
  private readonly staged = new Map<string, ReplicatedRevision>();
  private readonly rounds = new Map<number, Round>();
  private bundleCounters: BundleCounters | undefined;
  private readonly restarts: number[] = [];
  private readonly log: Logger;
  private roundCount = 0;
  private leaseCount = 0;
  private stopping = false;
  private primarySocket = '';
  private replaced = 0;
  private ackTimeouts = 0;

  private constructor(private readonly options: WorkerPoolOptions) {
    this.log = options.logger.child({ component: 'workers' });
  }

  static create(options: WorkerPoolOptions): WorkerPool {
    return new WorkerPool(options);
  }

  /** Forks the workers; resolves with the public address once every one listens there. */
  async start(primarySocket: string): Promise<AddressInfo> {
    this.primarySocket = primarySocket;
    // Titles for `ps`, `top` and `pgrep node` (`node regent primary`, `node regent worker <n>`): Node 24
    // names its main thread `MainThread`, which would hide every process of the pool from them.
    process.title = 'node regent primary';
    const entry = fileURLToPath(new URL(`./worker-entry${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
    cluster.setupPrimary({ exec: entry, args: [], serialization: 'advanced', silent: false });
    // Every worker listens with the configured port, `0` included: node:cluster gives them all the one
    // port its first listener got (the handle is shared by key), for as long as any worker lives.
    const members = Array.from({ length: this.options.count }, () => this.fork());
    const [address] = await Promise.all(members.map((member) => this.listening(member)));
    this.log.info({ workers: this.members.size, pids: [...this.members.values()].map((member) => member.worker.process.pid) }, 'workers listening');
    return address!;
  }

  /** Phase one: sends `published` of `set` to every worker and waits for every acknowledgement. */
  prepare(set: string, published: PublishedRevision): Promise<void> {
    const revision = replicatedRevisionOf(published);
    this.staged.set(set, revision);
    const targets = [...this.members.values()].filter((member) => member.initialized);
    if (targets.length === 0) return Promise.resolve();
    const round = ++this.roundCount;
    return new Promise<void>((done) => {
      const waiting = new Set(targets.map((member) => member.worker.id));
      const timer = setTimeout(() => {
        for (const id of waiting) {
          const member = this.members.get(id);
          this.ackTimeouts++;
          this.log.error({ worker: id, pid: member?.worker.process.pid, revision: revision.revision, set, timeoutMs: this.ackTimeoutMs }, 'worker did not acknowledge a revision; replacing it');
          member?.worker.process.kill('SIGKILL');
        }
        this.finishRound(round);
      }, this.ackTimeoutMs);
      this.rounds.set(round, { waiting, done: () => { clearTimeout(timer); done(); } });
      for (const member of targets) this.send(member.worker, { type: 'prepare', round, set, revision });
    });
  }

  /** Phase two: every worker holds the revision of `set`; they release their long polls. */
  release(set: string): void {
    const staged = this.staged.get(set);
    if (staged) {
      this.released.set(set, staged);
      this.staged.delete(set);
    }
    for (const member of this.members.values()) if (member.initialized) this.send(member.worker, { type: 'release', set });
  }

  /** SIGHUP: every worker reads the agent tokens file again. */
  reload(): void {
    for (const member of this.members.values()) if (member.initialized) this.send(member.worker, { type: 'reload' });
  }

  /** Adds what the workers' bundle endpoints answered (each reports every second) to `counters` (`/metrics`). */
  countBundlesInto(counters: BundleCounters): void {
    this.bundleCounters = counters;
  }

  /** `/status` → `workers`. */
  status(): Record<string, unknown> {
    const live = this.liveMembers();
    return { ...this.statsOf(live), pids: live.map((member) => member.worker.process.pid) };
  }

  /** The figures of {@link status}, for `/metrics`. */
  stats(): WorkerPoolStats {
    return this.statsOf(this.liveMembers());
  }

  /** The workers that are listening. */
  private liveMembers(): Member[] {
    return [...this.members.values()].filter((member) => member.listening !== undefined);
  }

  private statsOf(live: readonly Member[]): WorkerPoolStats {
    return { configured: this.options.count, live: live.length, longPollWaiters: live.reduce((sum, member) => sum + member.longPollWaiters, 0), replaced: this.replaced, ackTimeouts: this.ackTimeouts };
  }

  /** Asks every worker to drain (held long polls answered, connections closed) and waits for them to exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    const exits = [...this.members.values()].map(({ worker }) => new Promise<void>((done) => {
      if (worker.isDead()) return done();
      worker.once('exit', () => done());
      this.send(worker, { type: 'shutdown' });
    }));
    const force = setTimeout(() => {
      for (const { worker } of this.members.values()) worker.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await Promise.all(exits);
    clearTimeout(force);
  }

  private get ackTimeoutMs(): number {
    return this.options.ackTimeoutMs ?? 10_000;
  }

  private fork(): Member {
    const worker = cluster.fork();
    const member: Member = { worker, leases: new Map(), initialized: false, longPollWaiters: 0 };
    this.members.set(worker.id, member);
    worker.on('message', (message: unknown) => {
      if (isClusterMessage(message)) this.onMessage(member, message as ToPrimary);
    });
    worker.on('exit', (code, signal) => this.onExit(member, code, signal));
    worker.on('error', (error) => this.log.warn({ worker: worker.id, err: error }, 'worker channel error'));
    return member;
  }

  /**
   * The worker listens for messages now: it gets the released revision of every set, serves it, and
   * stages the revision of a round under way (released with the others' by the round's `release`, which
   * IPC delivers after this message), then takes part in every round. A worker that joins during a round
   * never serves that round's revision before the others.
   */
  private initialize(member: Member): void {
    const sets = ['', ...this.options.config.environments.map(({ name }) => name)].map((set) => ({ set, revision: this.released.get(set), staged: this.staged.get(set) }));
    this.send(member.worker, { type: 'init', config: this.options.config, port: this.options.config.port, primarySocket: this.primarySocket, sets });
    member.initialized = true;
  }

  private listening(member: Member): Promise<AddressInfo> {
    return new Promise<AddressInfo>((resolveListening, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${member.worker.id} did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const onMessage = (message: unknown): void => {
        if (!isClusterMessage(message) || message.type !== 'listening') return;
        clearTimeout(timer);
        member.worker.off('message', onMessage);
        resolveListening((message as unknown as { address: AddressInfo }).address);
      };
      member.worker.on('message', onMessage);
      member.worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker ${member.worker.id} exited (${code ?? signal}) before listening`));
      });
    });
  }

  private onMessage(member: Member, message: ToPrimary): void {
    const { heldPolls, refetches } = this.options;
    switch (message.type) {
      case 'ready':
        this.initialize(member);
        return;
      case 'listening':
        member.listening = message.address;
        return;
      case 'stats':
        member.longPollWaiters = message.longPollWaiters;
        if (message.bundles) this.bundleCounters?.add(message.bundles);
        return;
      case 'prepared': {
        const round = this.rounds.get(message.round);
        round?.waiting.delete(member.worker.id);
        if (round?.waiting.size === 0) this.finishRound(message.round);
        return;
      }
      case 'held-acquire': {
        const release = heldPolls.acquire(message.identity);
        let lease: number | null = null;
        if (release) {
          lease = ++this.leaseCount;
          member.leases.set(lease, release);
        }
        this.send(member.worker, { type: 'held-acquired', id: message.id, lease });
        return;
      }
      case 'held-release':
        member.leases.get(message.lease)?.();
        member.leases.delete(message.lease);
        return;
      case 'refetch-hold-for':
        this.send(member.worker, { type: 'refetch-hold', id: message.id, ms: refetches.holdFor(...message.args) });
        return;
      case 'refetch-events':
        for (const event of message.events) {
          if ('sent' in event) refetches.recordSent(...event.sent);
          else refetches.confirmed(...event.confirmed);
        }
        return;
    }
  }

  private finishRound(round: number): void {
    const entry = this.rounds.get(round);
    if (!entry) return;
    this.rounds.delete(round);
    entry.done();
  }

  private onExit(member: Member, code: number | null, signal: string | null): void {
    const id = member.worker.id;
    this.members.delete(id);
    for (const release of member.leases.values()) release();
    member.leases.clear();
    for (const [round, entry] of this.rounds) {
      entry.waiting.delete(id);
      if (entry.waiting.size === 0) this.finishRound(round);
    }
    if (this.stopping) return;
    this.log.error({ worker: id, pid: member.worker.process.pid, code, signal }, 'worker exited; replacing it');
    const now = Date.now();
    while (this.restarts.length > 0 && this.restarts[0]! < now - 60_000) this.restarts.shift();
    const delayMs = this.restarts.length >= RESTARTS_PER_MINUTE ? RESTART_DELAY_MS : 0;
    this.restarts.push(now + delayMs);
    setTimeout(() => {
      if (this.stopping) return;
      const replacement = this.fork();
      this.listening(replacement).then(
        () => (this.replaced++, this.log.info({ worker: replacement.worker.id, pid: replacement.worker.process.pid, replaces: id }, 'worker replaced')),
        (error: unknown) => this.log.error({ err: error }, 'replacement worker did not start'),
      );
    }, delayMs).unref();
  }

  private send(worker: Worker, message: ToWorker): void {
    if (!worker.isConnected()) return;
    worker.send(message, (error: Error | null) => {
      if (error) this.log.warn({ worker: worker.id, type: message.type, err: error }, 'message to worker not sent');
    });
  }
}
