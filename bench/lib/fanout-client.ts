/**
 * Simulated long-polling agents for fanout-bench, in their own process (forked with IPC): raw `net`
 * sockets, one `GET <path>` per socket with `If-None-Match` and `Prefer: modes=snapshot,delta;wait=N`,
 * recording when each full response arrived. Exits by itself after `deadlineMs`.
 *
 * Messages in: {type:'connect', port, path, etag, count, waitSeconds, sources, batch, deadlineMs},
 * {type:'report'}, {type:'close'}. Messages out: {type:'connected', ...}, {type:'report', ...}.
 */
import { connect, type Socket } from 'node:net';

interface ConnectMessage {
  type: 'connect';
  port: number;
  path: string;
  etag: string;
  count: number;
  waitSeconds: number;
  /** Spread sockets over 127.0.0.1 .. 127.0.0.<sources> as source addresses. */
  sources: number;
  /** Connections opened concurrently while ramping up. */
  batch: number;
  deadlineMs: number;
}

type Message = ConnectMessage | { type: 'report' } | { type: 'close' };

const nowAbs = (): number => performance.timeOrigin + performance.now();
const sockets: Socket[] = [];
const responseTimes: number[] = [];
const statuses = new Map<number, number>();
const errors = new Map<string, number>();
let closedEarly = 0;

function send(message: unknown): void {
  process.send?.(message);
}

function countError(code: string): void {
  errors.set(code, (errors.get(code) ?? 0) + 1);
}

/** One held request; resolves when the socket is connected and the request written. */
function open(options: ConnectMessage, index: number): Promise<void> {
  return new Promise((resolveOpen) => {
    const localAddress = options.sources > 1 ? `127.0.0.${1 + (index % options.sources)}` : undefined;
    const socket = connect({ host: '127.0.0.1', port: options.port, localAddress, noDelay: true });
    sockets.push(socket);
    let buffered: Buffer = Buffer.alloc(0);
    let expected = -1;
    let status = 0;
    let done = false;
    socket.on('connect', () => {
      socket.write(`GET ${options.path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nUser-Agent: fanout-bench\r\nIf-None-Match: ${options.etag}\r\nPrefer: modes=snapshot,delta;wait=${options.waitSeconds}\r\n\r\n`);
      resolveOpen();
    });
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (expected < 0) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        expected = end + 4 + (length ? Number(length[1]) : 0);
      }
      if (buffered.length >= expected) {
        done = true;
        const at = nowAbs();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) responseTimes.push(at);
        buffered = Buffer.alloc(0);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      countError(error.code ?? error.message);
      resolveOpen();
    });
    socket.on('close', () => {
      if (!done) closedEarly++;
    });
  });
}

async function connectAll(options: ConnectMessage): Promise<void> {
  setTimeout(() => process.exit(3), options.deadlineMs).unref();
  const started = nowAbs();
  for (let first = 0; first < options.count; first += options.batch) {
    const batch: Promise<void>[] = [];
    for (let i = first; i < Math.min(options.count, first + options.batch); i++) batch.push(open(options, i));
    await Promise.all(batch);
  }
  send({ type: 'connected', count: sockets.length, ms: nowAbs() - started, errors: Object.fromEntries(errors) });
}

process.on('message', (message: Message) => {
  if (message.type === 'connect') {
    void connectAll(message);
  } else if (message.type === 'report') {
    send({ type: 'report', times: responseTimes, statuses: Object.fromEntries(statuses), errors: Object.fromEntries(errors), closedEarly });
  } else if (message.type === 'close') {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
