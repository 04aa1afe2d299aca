import type { Socket } from 'node:net';
import { parsePlainRequestHead, type PlainRequestHead } from './plain-request-head.js';

/** The blank line that ends a request head. */
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

export interface BundleFastPathOptions {
  /**
   * The whole answer to a plain request (its head: status line, headers, blank line; then its body,
   * if any), or undefined to let node:http answer it.
   */
  answer(head: PlainRequestHead): readonly Buffer[] | undefined;
  /** Gives the connection to node:http (its `connection` listener), after the unread bytes were put back. */
  handOver(socket: Socket): void;
  /** The longest request head read here; a longer one goes to node:http (which answers 431). */
  maxHeadBytes: number;
  /** How long a new connection may stay silent before its first request (node:http: `headersTimeout`). */
  firstRequestTimeoutMs: number;
  /** How long a connection may stay idle between requests (node:http: `keepAliveTimeout`). */
  keepAliveTimeoutMs: number;
}

/**
 * Answers plain bundle reads — the fleet's heartbeat (an agent asking again for the bundle it has, no
 * long poll) and the download that follows a commit — straight from the socket, without node:http's
 * request and response objects, which cost a polling fleet a fifth of what a server can answer.
 *
 * Each connection starts here. Every chunk read is cut into complete request heads; while each is a
 * {@link PlainRequestHead} that `answer` knows, it gets its prebuilt answer (pipelined requests in
 * order). The first byte that is anything else — a partial head, a long poll, an admin call, a
 * malformed request — or an answer the client is slow to read ends the fast path for that connection
 * for good: the bytes not answered are put back on the socket and node:http takes the connection, so
 * every other answer, error and limit is node:http's and the bundle handler's, as without this path.
 */
export class BundleFastPath {
  private readonly sockets = new Set<Socket>();
  /** Shutting down: a request that arrives on a connection being ended is not answered (node:http does not either). */
  private closing = false;

  constructor(private readonly options: BundleFastPathOptions) {}

  /** Takes a connection just accepted. */
  adopt(socket: Socket): void {
    const { answer, maxHeadBytes } = this.options;
    let idleTimeoutSet = false;
    // An agent sends the same bytes each time: the last head read on this connection, parsed once.
    let lastText = '';
    let lastHead: PlainRequestHead | undefined;
    const onData = (chunk: Buffer): void => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      let position = 0;
      let corked = false;
      for (;;) {
        const end = chunk.indexOf(HEAD_END, position);
        if (end < 0 || end - position > maxHeadBytes) break;
        const text = chunk.toString('latin1', position, end);
        if (text !== lastText) {
          lastText = text;
          lastHead = parsePlainRequestHead(text);
        }
        const head = lastHead;
        const parts = head && answer(head);
        if (!parts) break;
        position = end + HEAD_END.length;
        const more = position < chunk.length;
        if (!corked && (more || parts.length > 1)) {
          socket.cork();
          corked = true;
        }
        for (const part of parts) socket.write(part);
        // A client that asks for more than it reads: node:http answers the rest, with its own back-pressure.
        if (more && socket.writableNeedDrain) break;
      }
      if (corked) socket.uncork();
      if (position < chunk.length) {
        handOver(position === 0 ? chunk : chunk.subarray(position));
        return;
      }
      if (!idleTimeoutSet) {
        socket.setTimeout(this.options.keepAliveTimeoutMs);
        idleTimeoutSet = true;
      }
      // A client that reads slower than it was answered: stop reading until what it was sent has drained.
      if (socket.writableNeedDrain) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    };
    const onTimeout = (): void => {
      socket.destroy();
    };
    const onError = (): void => {
      socket.destroy();
    };
    // node:http's sockets are half-open: a client that stops sending is done, and has had its answers.
    const onEnd = (): void => {
      socket.end();
    };
    const onClose = (): void => {
      this.sockets.delete(socket);
    };
    const handOver = (unread: Buffer | undefined): void => {
      this.sockets.delete(socket);
      socket.removeListener('data', onData);
      socket.removeListener('timeout', onTimeout);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
      socket.setTimeout(0);
      socket.pause();
      if (unread) socket.unshift(unread);
      this.options.handOver(socket);
      socket.resume();
    };
    this.sockets.add(socket);
    socket.on('data', onData);
    socket.on('timeout', onTimeout);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.setTimeout(this.options.firstRequestTimeoutMs);
  }

  /** Connections still on the fast path: between two requests (an answer may still be being written). */
  get size(): number {
    return this.sockets.size;
  }

  /**
   * Ends every connection still on the fast path, after the answers it was given; for shutting down.
   * They stay tracked until they close, so {@link closeAll} still reaches one whose client is slow to
   * read a download.
   */
  closeIdle(): void {
    this.closing = true;
    for (const socket of this.sockets) socket.end();
  }

  /** Destroys every connection still on the fast path. */
  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
