/**
 * The bytes of a 304 as node:http would write them for a keep-alive HTTP/1.1 request: the status line,
 * the given headers in their order, `Date`, `Connection: keep-alive` and `Keep-Alive`. Rendered once
 * per key (a built bundle) and second, since `Date` changes each second.
 */
export class NotModifiedBytes {
  private readonly rendered = new WeakMap<object, { second: number; bytes: Buffer }>();
  private dateSecond = -1;
  private dateLine = '';
  private readonly connectionLines: string;

  constructor(keepAliveTimeoutMs: number) {
    this.connectionLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAliveTimeoutMs / 1000)}\r\n\r\n`;
  }

  bytesFor(key: object, headers: Readonly<Record<string, string>>): Buffer {
    const second = Math.floor(Date.now() / 1000);
    const cached = this.rendered.get(key);
    if (cached && cached.second === second) return cached.bytes;
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
    }
    let text = 'HTTP/1.1 304 Not Modified\r\n';
    for (const name of Object.keys(headers)) text += `${name}: ${headers[name]}\r\n`;
    const bytes = Buffer.from(text + this.dateLine + this.connectionLines, 'latin1');
    this.rendered.set(key, { second, bytes });
    return bytes;
  }
}
