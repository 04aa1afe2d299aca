import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../domain/logger.js';
import type { HeadListener, Revision } from '../domain/store/policy-store.js';

/** Options of {@link HeadWatcher}. */
export interface HeadWatcherOptions {
  /** The store (bare repository) directory. */
  dir: string;
  branch: string;
  /** The full ref to watch (`refs/tags/prod`); `refs/heads/<branch>` by default. */
  ref?: string;
  /** Reads the branch head now (undefined when the branch does not exist). */
  readHead: () => Promise<Revision | undefined>;
  /** The head as last known, so the first change is detected against it. */
  initialHead: Revision | undefined;
  /** Safety poll interval (ms); file watching is fast but not guaranteed. */
  intervalMs: number;
  logger: Logger;
  /** Quiet period after a file event before the head is re-read (ms). */
  debounceMs?: number;
}

/**
 * Tells listeners when the tracked branch moves, however it moves: our own commits call {@link notify}
 * at once; anything else (a `git push` into the store, `update-ref` from another process, `pack-refs`)
 * is seen by `fs.watch` on the ref's directory and the store root (`packed-refs`), debounced, and by a
 * safety poll. Listeners are only called when the head value actually changed. Watching starts with the
 * first listener and stops with the last or with {@link close}.
 */
export class HeadWatcher {
  private readonly listeners = new Set<HeadListener>();
  private readonly watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private lastHead: Revision | undefined;
  /** Bumped by every notify(): a check that started before it must not report an older value. */
  private generation = 0;
  private checking = false;
  private checkAgain = false;
  private closed = false;

  constructor(private readonly options: HeadWatcherOptions) {
    this.lastHead = options.initialHead;
  }

  /** Adds a listener; returns its unsubscribe function. */
  subscribe(listener: HeadListener): () => void {
    if (this.closed) return () => undefined;
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Reports a head we moved ourselves; listeners are called synchronously when it is new. */
  notify(head: Revision | undefined): void {
    this.generation += 1;
    this.emitIfChanged(head);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    const { dir, branch, intervalMs, logger } = this.options;
    const refFile = join(dir, ...(this.options.ref ?? `refs/heads/${branch}`).split('/'));
    this.watchDirectory(dirname(refFile), (name) => name === basename(refFile) || name === `${basename(refFile)}.lock`);
    this.watchDirectory(dir, (name) => name.startsWith('packed-refs'));
    this.pollTimer = setInterval(() => void this.check(), intervalMs);
    this.pollTimer.unref();
    logger.debug({ branch, watchers: this.watchers.length }, 'head watcher started');
  }

  private stop(): void {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    this.pollTimer = undefined;
    this.debounceTimer = undefined;
  }

  private watchDirectory(path: string, relevant: (name: string) => boolean): void {
    try {
      const watcher = watch(path, { persistent: false }, (_event, name) => {
        if (name === null || relevant(name.toString())) this.scheduleCheck();
      });
      watcher.on('error', (error) => {
        this.options.logger.debug({ err: error, path }, 'head watcher lost a directory; polling continues');
        watcher.close();
      });
      this.watchers.push(watcher);
    } catch (error) {
      // e.g. refs/heads/<team>/ does not exist yet for a nested branch name: the poll covers it.
      this.options.logger.debug({ err: error, path }, 'cannot watch directory; relying on polling');
    }
  }

  private scheduleCheck(): void {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => void this.check(), this.options.debounceMs ?? 20);
    this.debounceTimer.unref();
  }

  private async check(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.checkAgain = false;
        const generation = this.generation;
        const head = await this.options.readHead();
        if (generation === this.generation && !this.closed) this.emitIfChanged(head);
      } while (this.checkAgain && !this.closed);
    } catch (error) {
      this.options.logger.warn({ err: error, branch: this.options.branch }, 'cannot read branch head');
    } finally {
      this.checking = false;
    }
  }

  private emitIfChanged(head: Revision | undefined): void {
    if (head === this.lastHead) return;
    this.lastHead = head;
    for (const listener of [...this.listeners]) {
      try {
        listener(head);
      } catch (error) {
        this.options.logger.error({ err: error, head }, 'head listener failed');
      }
    }
  }
}
