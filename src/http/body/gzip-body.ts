import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import { InputError, PayloadTooLargeError, RequestTimeoutError, UnsupportedMediaTypeError } from '../../domain/errors.js';

export interface CompressedBodyLimits {
  /** Bytes of the body as sent (413 `body_too_large`). */
  maxBytes: number;
  /** Bytes once inflated (413 `decompressed_body_too_large`): a gzip bomb is stopped here, not inflated. */
  maxDecompressedBytes: number;
  /**
   * Milliseconds from now until the whole body is in (408 `body_timeout`): a body that trickles in is cut
   * off here rather than holding what it was given (a slot) until the server's request timeout.
   */
  timeoutMs: number;
}

/** What {@link readCompressedBody} read: the inflated bytes and the bytes as sent. */
export interface CompressedBody {
  bytes: Buffer;
  compressedBytes: number;
}

/**
 * Reads a request body sent with `Content-Encoding: gzip` (OPA's decision logs) or without any encoding,
 * inflating it as it streams in, with two hard caps: the bytes as sent and the bytes inflated. Nothing is
 * inflated past `maxDecompressedBytes` (a 10 MB gzip of zeros expands to 10 GB; it is cut off after the
 * cap, having cost one cap of memory and a few ms). A body whose `Content-Length` is over `maxBytes` is
 * refused before a byte is read. Errors: `unsupported_encoding` (415, any other encoding),
 * `body_too_large` / `decompressed_body_too_large` (413), `invalid_gzip` (400: not gzip, or cut short),
 * `request_aborted` (400), `body_timeout` (408: not all in within `timeoutMs`). After a refusal the rest of
 * the body is drained (at most `maxBytes`), or the connection closed when the body itself is too large or late.
 */
export function readCompressedBody(req: IncomingMessage, limits: CompressedBodyLimits): Promise<CompressedBody> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'identity') {
    return Promise.reject(new UnsupportedMediaTypeError('unsupported_encoding', 'send the batch gzip\'d (Content-Encoding: gzip, as OPA does) or unencoded', { field: 'Content-Encoding' }));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    return Promise.reject(tooLarge(limits.maxBytes));
  }
  // A request whose client went away before we got to it (it waited for a slot) will emit nothing more.
  if (req.destroyed || req.readableAborted) return Promise.reject(aborted());
  const gzip = encoding !== 'identity';
  const decompressedCap = gzip ? limits.maxDecompressedBytes : limits.maxBytes;
  return new Promise<CompressedBody>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let compressedBytes = 0;
    let outputBytes = 0;
    let settled = false;
    const inflater = gzip ? createGunzip() : undefined;
    const timer = setTimeout(() => {
      fail(new RequestTimeoutError('body_timeout', `the body was not all sent within ${limits.timeoutMs} ms (decisionLogs.bodyTimeoutMs); the connection is closed`, { field: 'body', limit: limits.timeoutMs }), false);
    }, limits.timeoutMs);
    const fail = (error: Error, drain: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.removeListener('data', onData);
      inflater?.removeAllListeners('data');
      inflater?.destroy();
      chunks.length = 0;
      if (drain) req.resume();
      reject(error);
    };
    const collect = (chunk: Buffer): void => {
      outputBytes += chunk.length;
      if (outputBytes > decompressedCap) {
        fail(gzip ? new PayloadTooLargeError('decompressed_body_too_large', `the batch inflates to more than decisionLogs.maxDecompressedBytes (${decompressedCap} bytes); it was not inflated further`, { field: 'body', limit: decompressedCap }) : tooLarge(limits.maxBytes), gzip);
        return;
      }
      chunks.push(chunk);
    };
    const onData = (chunk: Buffer): void => {
      compressedBytes += chunk.length;
      if (compressedBytes > limits.maxBytes) {
        fail(tooLarge(limits.maxBytes), false);
        return;
      }
      if (!inflater) {
        collect(chunk);
        return;
      }
      if (!inflater.write(chunk)) req.pause();
    };
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), compressedBytes });
    };
    if (inflater) {
      inflater.on('data', collect);
      inflater.on('drain', () => req.resume());
      inflater.on('error', (error) => fail(new InputError('invalid_gzip', `the body is not valid gzip: ${error.message}`, { field: 'body' }), true));
      inflater.on('end', done);
    }
    req.on('data', onData);
    req.on('end', () => {
      if (settled) return;
      if (inflater) inflater.end();
      else done();
    });
    req.on('aborted', () => fail(aborted(), false));
    req.on('close', () => {
      if (!req.complete) fail(aborted(), false);
    });
    req.on('error', (error) => fail(new InputError('request_aborted', `the body could not be read: ${error.message}`, { field: 'body' }), false));
  });
}

function aborted(): InputError {
  return new InputError('request_aborted', 'the client went away before the body was read', { field: 'body' });
}

function tooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError('body_too_large', `the batch is over decisionLogs.maxBodyBytes (${maxBytes} bytes) as sent`, { field: 'body', limit: maxBytes });
}
