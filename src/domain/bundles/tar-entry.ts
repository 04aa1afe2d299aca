/**
 * Tar entries for bundles, written directly (no stream): one regular file = a 512-byte ustar header,
 * the content, zero padding to a 512-byte boundary. Headers are fixed (mode 0644, uid/gid 0, empty
 * owner names, mtime 0), so an entry is a pure function of its name and content: it can be cached by
 * the file's digest and concatenated with others into an archive. The layout matches what `tar-stream`
 * and `opa build` write for the same name (ustar; a name over 100 bytes is split into prefix and name
 * at a `/`, and one that cannot be split goes into a PAX `path` record), and Go's `archive/tar`, which
 * OPA reads bundles with, reads all three.
 */

export const TAR_BLOCK = 512;
/** Two zero blocks: the end-of-archive marker. */
export const TAR_TRAILER: Buffer = Buffer.alloc(2 * TAR_BLOCK);

const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');
const FILE_MODE = 0o644;
const TYPE_FILE = 0x30; // '0'
const TYPE_PAX = 0x78; // 'x'

/** The tar entry name OPA's own `opa build` writes: the bundle path with one leading `/`. */
export function tarEntryName(path: string): string {
  return `/${path}`;
}

/** The bytes of one regular-file entry (header(s), content, padding) for the bundle path `path`. */
export function tarEntry(path: string, content: Buffer): Buffer {
  const name = tarEntryName(path);
  const split = ustarName(name);
  const pax = split ? undefined : paxRecord('path', name);
  const headerBytes = pax ? 2 * TAR_BLOCK + padded(pax.length) : TAR_BLOCK;
  // Only headers and padding need zeroing: a 4 MiB data file is not written twice.
  const out = Buffer.allocUnsafe(headerBytes + padded(content.length));
  out.fill(0, 0, headerBytes);
  out.fill(0, headerBytes + content.length);
  let at = 0;
  if (pax) {
    writeHeader(out, 0, { name: 'PaxHeader', prefix: '', size: pax.length, type: TYPE_PAX });
    pax.copy(out, TAR_BLOCK);
    at = TAR_BLOCK + padded(pax.length);
  }
  writeHeader(out, at, { ...(split ?? { name: 'PaxHeader', prefix: '' }), size: content.length, type: TYPE_FILE });
  content.copy(out, headerBytes);
  return out;
}

/**
 * Takes one entry written by {@link tarEntry} apart the way a tar reader does (checksums, a PAX `path`
 * record, ustar prefix and name, size, padding), independently of how it was written: for verifying
 * entries before they are shipped. Throws on anything that is not exactly one regular file.
 */
export function readTarEntry(entry: Buffer): { name: string; content: Buffer } {
  let at = 0;
  let paxPath: string | undefined;
  let header = readHeader(entry, at);
  if (header.type === TYPE_PAX) {
    const records = entry.subarray(at + TAR_BLOCK, at + TAR_BLOCK + header.size).toString('utf8');
    paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(records)?.[1];
    if (paxPath === undefined) throw new Error('tar entry: PAX header without a path record');
    at += TAR_BLOCK + padded(header.size);
    header = readHeader(entry, at);
  }
  if (header.type !== TYPE_FILE) throw new Error(`tar entry: type '${String.fromCharCode(header.type)}' is not a regular file`);
  const start = at + TAR_BLOCK;
  const end = start + header.size;
  if (start + padded(header.size) !== entry.length) throw new Error(`tar entry '${paxPath ?? header.name}': ${header.size} bytes of content do not fill the entry of ${entry.length} bytes`);
  for (let i = end; i < entry.length; i++) if (entry[i] !== 0) throw new Error(`tar entry '${paxPath ?? header.name}': padding is not zeros`);
  return { name: paxPath ?? header.name, content: entry.subarray(start, end) };
}

function readHeader(buf: Buffer, at: number): { name: string; size: number; type: number } {
  if (buf.length < at + TAR_BLOCK) throw new Error('tar entry: truncated header');
  let sum = 8 * 0x20;
  for (let i = 0; i < TAR_BLOCK; i++) if (i < 148 || i >= 156) sum += buf[at + i]!;
  if (readOctal(buf, at + 148, 8) !== sum) throw new Error('tar entry: header checksum mismatch');
  if (!buf.subarray(at + 257, at + 265).equals(USTAR_MAGIC)) throw new Error('tar entry: not a ustar header');
  const field = (from: number, length: number): string => {
    const text = buf.toString('utf8', at + from, at + from + length);
    const nul = text.indexOf('\0');
    return nul < 0 ? text : text.slice(0, nul);
  };
  const prefix = field(345, 155);
  const name = field(0, 100);
  return { name: prefix ? `${prefix}/${name}` : name, size: readOctal(buf, at + 124, 12), type: buf[at + 156]! };
}

function padded(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

/** ustar's split of a long name into `prefix` (≤ 155 bytes) and `name` (≤ 100 bytes) at a `/`. */
function ustarName(full: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(full) !== full.length) return undefined;
  let name = full;
  let prefix = '';
  while (name.length > 100) {
    const slash = name.indexOf('/');
    if (slash < 0) return undefined;
    prefix += prefix ? `/${name.slice(0, slash)}` : name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  return prefix.length > 155 ? undefined : { name, prefix };
}

/** One PAX extended-header record: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let length = bodyBytes + String(bodyBytes).length;
  if (String(length).length !== String(bodyBytes).length) length = bodyBytes + String(length).length;
  return Buffer.from(`${length}${body}`, 'utf8');
}

function writeHeader(buf: Buffer, at: number, header: { name: string; prefix: string; size: number; type: number }): void {
  buf.write(header.name, at, 100, 'utf8');
  buf.write(octal(FILE_MODE, 6), at + 100, 'latin1');
  buf.write(octal(0, 6), at + 108, 'latin1');
  buf.write(octal(0, 6), at + 116, 'latin1');
  buf.write(octal(header.size, 11), at + 124, 'latin1');
  buf.write(octal(0, 11), at + 136, 'latin1');
  buf[at + 156] = header.type;
  USTAR_MAGIC.copy(buf, at + 257);
  buf.write(octal(0, 6), at + 329, 'latin1');
  buf.write(octal(0, 6), at + 337, 'latin1');
  if (header.prefix) buf.write(header.prefix, at + 345, 155, 'utf8');
  // The checksum is computed with its own field read as eight spaces.
  let sum = 8 * 0x20;
  for (let i = 0; i < TAR_BLOCK; i++) if (i < 148 || i >= 156) sum += buf[at + i]!;
  buf.write(octal(sum, 6), at + 148, 'latin1');
}

/** Zero-padded octal and a trailing space, as tar-stream writes numeric fields. */
function octal(value: number, digits: number): string {
  const text = value.toString(8);
  if (text.length > digits) throw new RangeError(`tar field overflow: ${value} needs more than ${digits} octal digits`);
  return `${'0'.repeat(digits - text.length)}${text} `;
}

function readOctal(buf: Buffer, at: number, length: number): number {
  return Number.parseInt(buf.toString('latin1', at, at + length).replace(/[\0 ]+$/, ''), 8);
}
