import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '../domain/logger.js';
import { GitCommandError } from './git-errors.js';
import { spawnGit } from './git-process.js';

/** An object as `cat-file` reports it; `content` only when requested. */
export interface BatchObject {
  oid: string;
  type: string;
  size: number;
  content?: Buffer;
}

interface Expectation {
  withContent: boolean;
  settle(result: BatchObject | undefined): void;
}

interface PendingRequest {
  reject(error: Error): void;
}

const HEADER = /^([0-9a-f]{40}) ([a-z]+) (\d+)$/;
const NEWLINE = 0x0a;

/**
 * One long-lived `git cat-file --batch-command --buffer` child per store: reading a thousand blobs costs
 * one round trip instead of a thousand processes. Requests are written in order and answered in order
 * (a FIFO of expectations), so concurrent callers never see each other's bytes. The output is parsed as
 * a binary stream (`<oid> <type> <size>\n<bytes>\n`, `<name> missing\n`).
 *
 * If the child dies, every outstanding request is rejected with a transient {@link GitCommandError} and
 * the next request starts a new child.
 *
 * Names passed to {@link info} may be `<tree>:<path>` or `<oid>^{tree}`: callers must have validated
 * the path (no newline) and the oid.
 */
export class CatFileBatch {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly expectations: Expectation[] = [];
  private expectationHead = 0;
  private readonly requests = new Set<PendingRequest>();
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private body: { oid: string; type: string; size: number } | undefined;
  private stderrTail = '';
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** Contents of the given objects, in order; `undefined` for a missing object. */
  contents(oids: readonly string[]): Promise<Array<BatchObject | undefined>> {
    return this.request(oids, true);
  }

  /** Type and size (no content) of the given object names, in order; `undefined` when missing. */
  info(names: readonly string[]): Promise<Array<BatchObject | undefined>> {
    return this.request(names, false);
  }

  /** Stops the child; outstanding and later requests are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin.end();
    });
  }

  private request(names: readonly string[], withContent: boolean): Promise<Array<BatchObject | undefined>> {
    if (this.closed) return Promise.reject(new GitCommandError('cat-file', undefined, 'the object reader is closed'));
    if (names.length === 0) return Promise.resolve([]);
    if (names.some((name) => name.includes('\n'))) return Promise.reject(new Error('object names must not contain a newline'));
    const child = this.ensureChild();
    return new Promise((resolve, reject) => {
      const results = new Array<BatchObject | undefined>(names.length);
      let remaining = names.length;
      const pending: PendingRequest = { reject };
      this.requests.add(pending);
      names.forEach((_, index) => {
        this.expectations.push({
          withContent,
          settle: (result) => {
            results[index] = result;
            if (--remaining === 0) {
              this.requests.delete(pending);
              resolve(results);
            }
          },
        });
      });
      const verb = withContent ? 'contents' : 'info';
      child.stdin.write(`${names.map((name) => `${verb} ${name}\n`).join('')}flush\n`);
    });
  }

  private ensureChild(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawnGit(this.dir, ['cat-file', '--batch-command', '--buffer']);
    this.child = child;
    this.stderrTail = '';
    child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4096);
    });
    child.stdin.on('error', () => undefined);
    const onGone = (reason: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.failAll(new GitCommandError('cat-file', child.exitCode ?? undefined, `${reason} ${this.stderrTail}`.trim()));
    };
    child.on('error', (error) => onGone(error.message));
    child.on('close', () => onGone('the object reader exited'));
    this.logger.debug({ pid: child.pid }, 'cat-file reader started');
    return child;
  }

  private failAll(error: Error): void {
    if (this.requests.size > 0 && !this.closed) this.logger.warn({ err: error }, 'cat-file reader died');
    this.expectations.length = 0;
    this.expectationHead = 0;
    this.chunks = [];
    this.bufferedBytes = 0;
    this.body = undefined;
    const requests = [...this.requests];
    this.requests.clear();
    for (const request of requests) request.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    try {
      this.drain();
    } catch (error) {
      this.child?.kill('SIGKILL');
      this.failAll(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private drain(): void {
    for (;;) {
      const expectation = this.expectations[this.expectationHead];
      if (!expectation) {
        if (this.bufferedBytes > 0) throw new GitCommandError('cat-file', undefined, 'unexpected output from the object reader');
        return;
      }
      if (this.body) {
        if (this.bufferedBytes < this.body.size + 1) return;
        const content = this.take(this.body.size, true);
        this.take(1, false);
        const { oid, type, size } = this.body;
        this.body = undefined;
        this.settleNext({ oid, type, size, content });
        continue;
      }
      const lineLength = this.lineLength();
      if (lineLength === undefined) return;
      const line = this.take(lineLength, false).toString('utf8');
      this.take(1, false);
      const header = HEADER.exec(line);
      if (header) {
        const object = { oid: header[1] ?? '', type: header[2] ?? '', size: Number(header[3]) };
        if (expectation.withContent) this.body = object;
        else this.settleNext(object);
      } else if (line.endsWith(' missing') || line.endsWith(' ambiguous')) {
        this.settleNext(undefined);
      } else {
        throw new GitCommandError('cat-file', undefined, `unexpected header from the object reader: ${line.slice(0, 200)}`);
      }
    }
  }

  private settleNext(result: BatchObject | undefined): void {
    const expectation = this.expectations[this.expectationHead];
    this.expectationHead += 1;
    if (this.expectationHead > 1024 && this.expectationHead * 2 > this.expectations.length) {
      this.expectations.splice(0, this.expectationHead);
      this.expectationHead = 0;
    }
    expectation?.settle(result);
  }

  /** Bytes before the next newline, or undefined when no complete line is buffered. */
  private lineLength(): number | undefined {
    let offset = 0;
    for (const chunk of this.chunks) {
      const index = chunk.indexOf(NEWLINE);
      if (index >= 0) return offset + index;
      offset += chunk.length;
    }
    return undefined;
  }

  /** Removes `length` buffered bytes; `copy` guarantees the result does not pin a larger chunk. */
  private take(length: number, copy: boolean): Buffer {
    this.bufferedBytes -= length;
    const first = this.chunks[0];
    if (first && first.length >= length) {
      const part = first.subarray(0, length);
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
      return copy ? Buffer.from(part) : part;
    }
    const parts: Buffer[] = [];
    let needed = length;
    while (needed > 0) {
      const chunk = this.chunks[0];
      if (!chunk) break;
      if (chunk.length <= needed) {
        parts.push(chunk);
        needed -= chunk.length;
        this.chunks.shift();
      } else {
        parts.push(chunk.subarray(0, needed));
        this.chunks[0] = chunk.subarray(needed);
        needed = 0;
      }
    }
    return Buffer.concat(parts, length);
  }
}
