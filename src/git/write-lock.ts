/**
 * An in-process mutex: {@link run} executes tasks one at a time, in call order. Commits take it so that
 * the head check, tree building and compare-and-swap of one write never interleave with another's; the
 * compare-and-swap itself still guards against writers in other processes.
 */
export class WriteLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
