/** The status lines the fast path writes. */
const STATUS_LINES = new Map<number, string>([[200, 'HTTP/1.1 200 OK\r\n'], [304, 'HTTP/1.1 304 Not Modified\r\n']]);

/**
 * The head of an answer as node:http writes it for a keep-alive HTTP/1.1 request: the status line, the
 * given headers in their order, `Date`, `Connection: keep-alive` and `Keep-Alive`. Rendered once per
 * headers object (prepared once per built bundle) and second, since `Date` changes each second.
 */
export class ResponseHeadBytes {
  private readonly rendered = new WeakMap<object, { second: number; bytes: Buffer }>();
  private dateSecond = -1;
  private dateLine = '';
  private readonly connectionLines: string;

  constructor(keepAliveTimeoutMs: number) {
    this.connectionLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAliveTimeoutMs / 1000)}\r\n\r\n`;
  }

  bytesFor(status: 200 | 304, headers: Readonly<Record<string, string | number>>): Buffer {
    const second = Math.floor(Date.now() / 1000);
    const cached = this.rendered.get(headers);
    if (cached && cached.second === second) return cached.bytes;
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
    }
    let text = STATUS_LINES.get(status)!;
    for (const name of Object.keys(headers)) text += `${name}: ${headers[name]}\r\n`;
    const bytes = Buffer.from(text + this.dateLine + this.connectionLines, 'latin1');
    this.rendered.set(headers, { second, bytes });
    return bytes;
  }
}
