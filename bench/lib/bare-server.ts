/**
 * The DESIGN baseline: a bare `node:http` handler comparing If-None-Match against a precomputed ETag,
 * serving one file's bytes. Started by serve-bench as its own process:
 *
 *   node --import tsx bench/lib/bare-server.ts <port> <file> <etag>
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [portText, file, etag] = process.argv.slice(2);
if (!portText || !file || !etag) {
  process.stderr.write('usage: bare-server.ts <port> <file> <etag>\n');
  process.exit(2);
}
const body = readFileSync(file);
const ok = { ETag: etag, 'Content-Type': 'application/vnd.openpolicyagent.bundles', 'Content-Length': body.length };
const notModified = { ETag: etag };
createServer((req, res) => {
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, notModified);
    res.end();
  } else {
    res.writeHead(200, ok);
    res.end(body);
  }
}).listen(Number(portText), '127.0.0.1', () => process.stdout.write('listening\n'));
