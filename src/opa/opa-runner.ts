import { UnavailableError, UnprocessableError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { WORK_PRIORITIES, type WorkPriority } from '../domain/work-priority.js';
import { runOpaProcess, type KillReason, type OpaProcessLimits } from './opa-process.js';

export interface OpaRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface OpaRunnerOptions {
  path: string;
  /** `opa` processes alive at once, at most. */
  maxConcurrency: number;
  /** Requests (`write`, `interactive`) waiting for a process, at most; more are refused with `opa_busy`. */
  maxQueued: number;
  memoryLimitBytes: number;
  maxOutputBytes: number;
  /** Wall-clock budget per job, queueing included, by priority (milliseconds). */
  budgetsMs: Readonly<Record<WorkPriority, number>>;
  logger: Logger;
}

export interface OpaRunOptions {
  cwd?: string;
  priority: WorkPriority;
  /** Overrides the priority's budget. */
  budgetMs?: number;
}

export interface OpaRunnerStats {
  maxConcurrency: number;
  maxQueued: number;
  running: number;
  runningByPriority: Record<WorkPriority, number>;
  queued: Record<WorkPriority, number>;
  peakRunning: number;
  started: number;
  refusedBusy: number;
  killed: Record<KillReason, number>;
}

interface Job {
  args: readonly string[];
  cwd?: string;
  priority: WorkPriority;
  budgetMs: number;
  deadline: number;
  resolve(result: OpaRunResult): void;
  reject(error: Error): void;
  expiry?: NodeJS.Timeout;
}

const KILL_CODES: Record<KillReason, string> = { timeout: 'opa_timeout', memory: 'opa_memory_limit', output: 'opa_output_limit' };
const REQUEST_PRIORITIES: ReadonlySet<WorkPriority> = new Set(['write', 'interactive']);
/** A job starts only with at least this share of its budget left. */
const MIN_BUDGET_LEFT = 0.25;

/**
 * Every `opa` process Regent starts goes through here: at most `maxConcurrency` at once, each with a
 * wall-clock budget (queueing included) and a memory limit. Queued work starts by priority
 * (`activation` > `write` > `interactive` > `background`, then first come first served), and the last
 * process slot is kept for activations and writes, so evaluations and background revalidation can never
 * hold up what the fleet is served. Requests beyond `maxQueued`, or still queued when their budget runs
 * out, are refused with `opa_busy` (503, `Retry-After`); activations and background work are bounded by
 * construction and always wait their turn.
 */
export class OpaRunner {
  private readonly queues = new Map<WorkPriority, Job[]>(WORK_PRIORITIES.map((priority) => [priority, []]));
  private readonly runningByPriority: Record<WorkPriority, number> = { activation: 0, write: 0, interactive: 0, background: 0 };
  private running = 0;
  private peakRunning = 0;
  private started = 0;
  private refusedBusy = 0;
  private readonly killed: Record<KillReason, number> = { timeout: 0, memory: 0, output: 0 };
  private recentDurationMs = 1000;

  constructor(private readonly options: OpaRunnerOptions) {
    if (options.maxConcurrency < 1) throw new Error('maxConcurrency must be at least 1');
  }

  get path(): string {
    return this.options.path;
  }

  /**
   * Runs `opa <args>` when a slot is free. Resolves with the exit code and output of a process that
   * exited by itself; rejects with `opa_busy` (no slot in time), `opa_timeout` / `opa_memory_limit` /
   * `opa_output_limit` (Regent killed it), or `opa_unavailable` (it could not start, or died of a signal).
   */
  run(args: readonly string[], options: OpaRunOptions): Promise<OpaRunResult> {
    const budgetMs = options.budgetMs ?? this.options.budgetsMs[options.priority];
    const queue = this.queues.get(options.priority)!;
    try {
      this.admit(options.priority);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => {
      const job: Job = { args, cwd: options.cwd, priority: options.priority, budgetMs, deadline: Date.now() + budgetMs, resolve, reject };
      queue.push(job);
      job.expiry = setTimeout(() => this.expire(job), budgetMs);
      job.expiry.unref?.();
      this.pump();
    });
  }

  /**
   * Throws `opa_busy` now when a request of this priority would be refused for a full queue, so callers
   * can refuse before preparing work for OPA (packing a tree costs CPU and disk).
   */
  admit(priority: WorkPriority): void {
    if (REQUEST_PRIORITIES.has(priority) && this.queuedRequests() >= this.options.maxQueued && !this.canStart(priority)) {
      this.refusedBusy++;
      throw this.busy(priority, 'queue_full');
    }
  }

  stats(): OpaRunnerStats {
    const queued = { activation: 0, write: 0, interactive: 0, background: 0 };
    for (const [priority, queue] of this.queues) queued[priority] = queue.length;
    return {
      maxConcurrency: this.options.maxConcurrency,
      maxQueued: this.options.maxQueued,
      running: this.running,
      runningByPriority: { ...this.runningByPriority },
      queued,
      peakRunning: this.peakRunning,
      started: this.started,
      refusedBusy: this.refusedBusy,
      killed: { ...this.killed },
    };
  }

  private queuedRequests(): number {
    return this.queues.get('write')!.length + this.queues.get('interactive')!.length;
  }

  /** Activations and writes may use every slot; other work leaves one free for them. */
  private canStart(priority: WorkPriority): boolean {
    const { maxConcurrency } = this.options;
    if (priority === 'activation' || priority === 'write') return this.running < maxConcurrency;
    return this.running < Math.max(1, maxConcurrency - 1);
  }

  private pump(): void {
    for (const priority of WORK_PRIORITIES) {
      const queue = this.queues.get(priority)!;
      while (queue.length > 0 && this.canStart(priority)) this.start(queue.shift()!);
      // Strict priority: lower work never overtakes higher work that is waiting for a slot.
      if (queue.length > 0) return;
    }
  }

  private expire(job: Job): void {
    const queue = this.queues.get(job.priority)!;
    const index = queue.indexOf(job);
    if (index < 0) return;
    queue.splice(index, 1);
    this.refusedBusy++;
    job.reject(this.busy(job.priority, 'budget_spent_waiting'));
  }

  private start(job: Job): void {
    clearTimeout(job.expiry);
    // A job that spent most of its budget waiting would be killed for a lack of time that is the
    // queue's doing, not its own: it is refused as busy instead (503, retry), never started.
    const remaining = job.deadline - Date.now();
    if (remaining < job.budgetMs * MIN_BUDGET_LEFT) {
      this.refusedBusy++;
      job.reject(this.busy(job.priority, 'budget_spent_waiting'));
      queueMicrotask(() => this.pump());
      return;
    }
    this.running++;
    this.runningByPriority[job.priority]++;
    this.peakRunning = Math.max(this.peakRunning, this.running);
    this.started++;
    const limits: OpaProcessLimits = {
      timeoutMs: Math.max(1, job.deadline - Date.now()),
      memoryLimitBytes: this.options.memoryLimitBytes,
      maxOutputBytes: this.options.maxOutputBytes,
    };
    const command = job.args[0] ?? '';
    runOpaProcess(this.options.path, job.args, { cwd: job.cwd, limits })
      .then((result) => {
        this.recentDurationMs = this.recentDurationMs * 0.8 + result.durationMs * 0.2;
        if (result.killedFor === 'timeout' && result.durationMs < job.budgetMs * MIN_BUDGET_LEFT * 2) {
          // Killed at the deadline after running for less than half its budget: it mostly waited.
          this.killed.timeout++;
          job.reject(this.busy(job.priority, 'budget_spent_waiting'));
          return;
        }
        if (result.killedFor) {
          this.killed[result.killedFor]++;
          this.options.logger.warn({ command, priority: job.priority, reason: result.killedFor, durationMs: result.durationMs, peakRssBytes: result.peakRssBytes }, 'opa process killed at its limit');
          job.reject(this.limitError(command, result.killedFor, limits));
          return;
        }
        if (result.exitCode === undefined) {
          job.reject(new UnavailableError('opa_unavailable', `opa ${command} died of ${result.signal ?? 'a signal'}`, { command, signal: result.signal }));
          return;
        }
        job.resolve({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, durationMs: result.durationMs });
      }, (error: unknown) => {
        job.reject(new UnavailableError('opa_unavailable', `opa ${command} could not be started: ${(error as Error).message}`, { command }, { cause: error }));
      })
      .finally(() => {
        this.running--;
        this.runningByPriority[job.priority]--;
        this.pump();
      });
  }

  private limitError(command: string, reason: KillReason, limits: OpaProcessLimits): UnprocessableError {
    const what = reason === 'timeout'
      ? `did not finish within its budget of ${limits.timeoutMs} ms`
      : reason === 'memory'
        ? `used more than ${Math.round(limits.memoryLimitBytes / 1048576)} MiB of memory`
        : `wrote more than ${limits.maxOutputBytes} bytes of output`;
    return new UnprocessableError(KILL_CODES[reason], `opa ${command} ${what} and was stopped`, { command, limit: reason === 'timeout' ? limits.timeoutMs : reason === 'memory' ? limits.memoryLimitBytes : limits.maxOutputBytes });
  }

  private busy(priority: WorkPriority, reason: 'queue_full' | 'budget_spent_waiting'): UnavailableError {
    const queued = this.queuedRequests();
    const retryAfterSeconds = Math.min(60, Math.max(1, Math.ceil((this.recentDurationMs * (queued + 1)) / this.options.maxConcurrency / 1000)));
    const message = reason === 'queue_full'
      ? `every OPA process slot is busy and ${queued} requests are waiting; retry in ${retryAfterSeconds} s`
      : `no OPA process slot came free within the request's budget; retry in ${retryAfterSeconds} s`;
    return new UnavailableError('opa_busy', message, { retryAfterSeconds, reason, priority });
  }
}
