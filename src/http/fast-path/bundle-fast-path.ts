import type { Socket } from 'node:net';
import { parsePlainRequestHead, type PlainRequestHead } from './plain-request-head.js';

/** The socket events listened to here pass a chunk (`data`) or nothing. */
type SocketListener = (chunk: Buffer) => void;

/** The blank line that ends a request head. */
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** Reads a split head may take; more (a client dribbling its head) is node:http's, which parses as bytes come. */
const MAX_PENDING_READS = 4;
/** How every plain request starts: a head split over packets that starts so is waited for, anything else is node:http's at once. */
const PLAIN_STARTS = ['GET /bundles/', 'HEAD /bundles/'];
/**
 * What no plain head holds: a byte outside visible ASCII, SP and HTAB, or a CR or LF not in a CRLF (a CR
 * last may be the start of one). node:http may answer such a head now (a head of bare LFs is whole to it).
 */
const NEVER_PLAIN = /[^\t\r\n\x20-\x7e]|\r(?=[^\n])|(?<!\r)\n/;

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
 * order); the start of a plain head whose end has not come yet is kept for a few reads. The first
 * byte that is anything else — a long poll, an admin call, a malformed request, a head not complete
 * in time — or an answer the client is slow to read ends the fast path for that connection for good:
 * the bytes not answered are put back on the socket and node:http takes the connection, so every other
 * answer, error and limit is node:http's and the bundle handler's, as without this path.
 */
export class BundleFastPath {
  /** Each connection on the fast path, and how to end it for shutting down. */
  private readonly sockets = new Map<Socket, () => void>();
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
    // The start of a head that came without its end (a head split over TCP segments), and since when.
    let pending: Buffer | undefined;
    let pendingSince = 0;
    let pendingReads = 0;
    const onData = (received: Buffer): void => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      const chunk = pending ? Buffer.concat([pending, received]) : received;
      pending = undefined;
      let position = 0;
      let corked = false;
      let incomplete = false;
      for (;;) {
        const end = chunk.indexOf(HEAD_END, position);
        if (end < 0) incomplete = true;
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
      // Once a request was answered, the connection is idle between requests: node:http's keep-alive timeout.
      if (position > 0 && !idleTimeoutSet) {
        socket.setTimeout(this.options.keepAliveTimeoutMs);
        idleTimeoutSet = true;
      }
      if (position < chunk.length) {
        const rest = position === 0 ? chunk : chunk.subarray(position);
        // The start of a plain head: wait for its end, within node:http's bounds for a head (size, time
        // since it began) and a few reads; a copy, so the chunk it came in is not kept.
        if (incomplete && rest.length <= maxHeadBytes && mayBecomePlain(rest)) {
          const continued = position === 0 && pendingSince > 0;
          const since = continued ? pendingSince : Date.now();
          const reads = continued ? pendingReads + 1 : 1;
          if (Date.now() - since <= this.options.firstRequestTimeoutMs && reads <= MAX_PENDING_READS) {
            pendingSince = since;
            pendingReads = reads;
            pending = Buffer.from(rest);
            return;
          }
        }
        handOver(rest);
        return;
      }
      pendingSince = 0;
      // A client that reads slower than it was answered: stop reading until what it was sent has drained.
      if (socket.writableNeedDrain) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    };
    // Silent or idle too long. A first head still incomplete then is node:http's to time out and answer
    // (408); one after an answer is closed with the connection, as node:http's keep-alive timeout does.
    const onTimeout = (): void => {
      if (pending && !idleTimeoutSet) handOver(pending);
      else socket.destroy();
    };
    const onError = (): void => {
      socket.destroy();
    };
    // node:http's sockets are half-open: a client that stops sending is done, and has had its answers.
    // A head it cut short is node:http's to answer (400), as if node:http had read it: too late to put
    // the bytes back (the end was read), so node:http's listeners get them and the end once more.
    const onEnd = (): void => {
      if (!pending) {
        socket.end();
        return;
      }
      const cut = pending;
      handOver(undefined);
      socket.emit('data', cut);
      if (!socket.destroyed) socket.emit('end');
    };
    const onClose = (): void => {
      this.sockets.delete(socket);
    };
    const listeners: ReadonlyArray<[string, SocketListener]> = [['data', onData], ['timeout', onTimeout], ['error', onError], ['end', onEnd], ['close', onClose]];
    const handOver = (unread: Buffer | undefined): void => {
      pending = undefined;
      this.sockets.delete(socket);
      for (const [event, listener] of listeners) socket.removeListener(event, listener);
      socket.setTimeout(0);
      socket.pause();
      if (unread) socket.unshift(unread);
      this.options.handOver(socket);
      socket.resume();
    };
    // Shutting down: node:http keeps a connection in the middle of a head, and answers it.
    this.sockets.set(socket, () => {
      if (pending) handOver(pending);
      else socket.end();
    });
    for (const [event, listener] of listeners) socket.on(event, listener);
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
    for (const end of [...this.sockets.values()]) end();
  }

  /** Destroys every connection still on the fast path. */
  closeAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
    this.sockets.clear();
  }
}

/** Whether bytes that do not hold a whole head yet may still be a plain request's. */
function mayBecomePlain(start: Buffer): boolean {
  const text = start.toString('latin1', 0, 14);
  if (!PLAIN_STARTS.some((prefix) => (text.length >= prefix.length ? text.startsWith(prefix) : prefix.startsWith(text)))) return false;
  return !NEVER_PLAIN.test(start.toString('latin1'));
}
