import { isUtf8 } from 'node:buffer';
import type { TimeSlice } from '../time-slice.js';
import { canonicalJsonFromText, quoteJsonString } from './canonical-json.js';

/**
 * The canonical form of JSON (see canonical-json.ts) written straight from UTF-8 bytes into one buffer,
 * for the common case and quickly: tokens are copied as bytes (a string without escapes, found with
 * `indexOf`, already is canonical), objects whose keys come in byte order stay as written, and an
 * object that is not is rewritten in place once, when it closes. Almost nothing is allocated per value,
 * which is what makes megabytes of data cheap. The work is resumable ({@link CanonicalJsonWriter.run}
 * takes a budget of values), so a caller can give the event loop a turn between slices.
 *
 * It declines (and {@link canonicalJsonBytes} uses `canonicalJsonFromText`, which says what is wrong
 * with line and column) anything that is not plainly valid JSON with distinct keys: invalid UTF-8 or
 * syntax, a repeated key, nesting deeper than Go accepts. Whatever it writes is exactly what
 * `canonicalJsonFromText` writes for the same input (a test holds them equal).
 */

const MAX_DEPTH = 10_000;
/** Values written between two checks of the time slice. */
const VALUES_PER_STEP = 512;
const LINE_SEPARATOR = Buffer.from('\u2028', 'utf8');
const PARAGRAPH_SEPARATOR = Buffer.from('\u2029', 'utf8');
const SURROGATE = /[\ud800-\udfff]/;
/**
 * Control characters other than tab, newline and return. Outside strings the tokenizer refuses them
 * anyway; inside strings they are looked for ahead of the reader, a window at a time.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FORBIDDEN_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;
const CONTROL_WINDOW = 256 * 1024;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

interface Frame {
  object: boolean;
  /** Output offset of the first member (after `{` or `[`). */
  start: number;
  members: number;
  /** Objects: output offsets where each member (key, `:`, value) starts and ends, and where its key ends. */
  memberStarts: number[];
  memberEnds: number[];
  keyEnds: number[];
  /** Objects: decoded key bytes for keys written with escapes (their output bytes are not their value). */
  escapedKeys: Map<number, Buffer> | undefined;
  sorted: boolean;
}

export class CanonicalJsonWriter {
  /** Set when {@link run} returned true: the canonical bytes, or undefined when the input was declined. */
  result: Buffer | undefined;
  private out: Buffer;
  private len = 0;
  private pos = 0;
  private readonly end: number;
  private readonly stack: Frame[] = [];
  private started = false;
  private readonly separators: boolean;
  private nextBackslash = -2;
  private nextSeparator = -2;
  private nextNewline = -2;
  /** The first forbidden control character at or after `controlScanned`'s start, or -1 when none up to it. */
  private nextControl = -1;
  private controlScanned = 0;
  private nextTab = -2;
  private nextReturn = -2;
  /** Reused for rewriting unsorted objects. */
  private scratch = Buffer.alloc(0);

  constructor(private readonly input: Buffer) {
    this.end = input.length;
    // A leading BOM is ignored, as OPA's util.Unmarshal does.
    if (input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) this.pos = 3;
    this.out = Buffer.allocUnsafe(input.length + 64);
    this.separators = input.includes(LINE_SEPARATOR) || input.includes(PARAGRAPH_SEPARATOR);
  }

  /** Writes up to `budget` values; true when done. */
  run(budget: number): boolean {
    const input = this.input;
    const stack = this.stack;
    if (!this.started) {
      this.started = true;
      if (!isUtf8(input)) return true;
      this.skipWhitespace();
    }
    for (let count = 0; count < budget; count++) {
      const c = input[this.pos];
      if (c === 0x7b || c === 0x5b) {
        if (stack.length >= MAX_DEPTH) return true;
        this.pos++;
        this.skipWhitespace();
        if (input[this.pos] === (c === 0x7b ? 0x7d : 0x5d)) {
          this.pos++;
          this.write2(c, c + 2);
        } else {
          this.write1(c);
          const frame: Frame = { object: c === 0x7b, start: this.len, members: 0, memberStarts: [], memberEnds: [], keyEnds: [], escapedKeys: undefined, sorted: true };
          stack.push(frame);
          if (frame.object && !this.readKey(frame)) return true;
          continue;
        }
      } else if (c === 0x22) {
        if (!this.copyString()) return true;
      } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
        if (!this.copyLiteral(c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null')) return true;
      } else if (!this.copyNumber()) {
        return true;
      }
      // A value is complete: close every container that ends here.
      for (;;) {
        const top = stack[stack.length - 1];
        if (!top) {
          this.skipWhitespace();
          if (this.pos === this.end) this.result = this.out.subarray(0, this.len);
          return true;
        }
        if (top.object) top.memberEnds.push(this.len);
        top.members++;
        this.skipWhitespace();
        const d = input[this.pos++];
        if (d === 0x2c) {
          this.write1(0x2c);
          this.skipWhitespace();
          if (top.object && !this.readKey(top)) return true;
          break;
        }
        if (d !== (top.object ? 0x7d : 0x5d)) return true;
        stack.pop();
        if (top.object && !top.sorted && !this.sortMembers(top)) return true;
        this.write1(d);
      }
    }
    return false;
  }

  private skipWhitespace(): void {
    const input = this.input;
    let pos = this.pos;
    for (let c = input[pos]; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = input[++pos]);
    this.pos = pos;
  }

  /** `"key":` for the next member of `frame`, noting whether keys are still in byte order. */
  private readKey(frame: Frame): boolean {
    if (this.input[this.pos] !== 0x22) return false;
    const member = frame.memberStarts.length;
    frame.memberStarts.push(this.len);
    const decoded = this.copyString();
    if (decoded === false) return false;
    frame.keyEnds.push(this.len);
    if (decoded !== true) (frame.escapedKeys ??= new Map()).set(member, decoded);
    if (member > 0) {
      const order = this.compareKeys(frame, member - 1, member);
      if (order === 0) return false;
      if (order > 0) frame.sorted = false;
    }
    this.skipWhitespace();
    if (this.input[this.pos] !== 0x3a) return false;
    this.pos++;
    this.write1(0x3a);
    this.skipWhitespace();
    return true;
  }

  /**
   * Copies the string at `pos`. True when its bytes were copied as they are (its value is the bytes
   * between the quotes); the value's UTF-8 bytes when it was rewritten; false when it is not valid.
   */
  private copyString(): boolean | Buffer {
    const input = this.input;
    const start = this.pos;
    let close = input.indexOf(0x22, start + 1);
    if (close < 0) return false;
    if (this.nextBackslash !== -1 && this.nextBackslash < start) this.nextBackslash = input.indexOf(0x5c, start);
    if (this.separators && this.nextSeparator !== -1 && this.nextSeparator < start) this.nextSeparator = nextSeparatorFrom(input, start);
    if (this.forbiddenControlBefore(close)) return false;
    const plain = (this.nextBackslash === -1 || this.nextBackslash > close) && (!this.separators || this.nextSeparator === -1 || this.nextSeparator > close);
    if (plain) {
      // Raw control characters (newline, tab, return: the others were refused up front) are invalid in strings.
      if (this.nextNewline !== -1 && this.nextNewline < start) this.nextNewline = input.indexOf(0x0a, start);
      if (this.nextTab !== -1 && this.nextTab < start) this.nextTab = input.indexOf(0x09, start);
      if (this.nextReturn !== -1 && this.nextReturn < start) this.nextReturn = input.indexOf(0x0d, start);
      if ((this.nextNewline !== -1 && this.nextNewline < close) || (this.nextTab !== -1 && this.nextTab < close) || (this.nextReturn !== -1 && this.nextReturn < close)) return false;
      this.writeBytes(start, close + 1);
      this.pos = close + 1;
      return true;
    }
    for (;;) {
      let backslashes = 0;
      for (let k = close - 1; input[k] === 0x5c; k--) backslashes++;
      if (backslashes % 2 === 0) break;
      close = input.indexOf(0x22, close + 1);
      if (close < 0) return false;
    }
    for (let i = start + 1; i < close; i++) if (input[i]! < 0x20) return false;
    let value: string;
    try {
      value = JSON.parse(input.toString('utf8', start, close + 1)) as string;
    } catch {
      return false;
    }
    // Go decodes an escaped lone surrogate as U+FFFD.
    if (SURROGATE.test(value)) value = value.replace(LONE_SURROGATE, '\uFFFD');
    this.pos = close + 1;
    this.writeString(quoteJsonString(value));
    return Buffer.from(value, 'utf8');
  }

  /** Whether a forbidden control character comes before `end` (scanning ahead in windows, never back). */
  private forbiddenControlBefore(end: number): boolean {
    while (this.nextControl === -1 && this.controlScanned < end) {
      const from = this.controlScanned;
      const to = Math.min(this.end, Math.max(end, from + CONTROL_WINDOW));
      FORBIDDEN_CONTROL.lastIndex = 0;
      const match = FORBIDDEN_CONTROL.exec(this.input.toString('latin1', from, to));
      if (match) this.nextControl = from + match.index;
      this.controlScanned = to;
    }
    return this.nextControl !== -1 && this.nextControl < end;
  }

  private copyLiteral(word: 'true' | 'false' | 'null'): boolean {
    for (let i = 0; i < word.length; i++) if (this.input[this.pos + i] !== word.charCodeAt(i)) return false;
    this.writeBytes(this.pos, this.pos + word.length);
    this.pos += word.length;
    return true;
  }

  /** A JSON number, copied as written (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`). */
  private copyNumber(): boolean {
    const input = this.input;
    const start = this.pos;
    let i = start;
    if (input[i] === 0x2d) i++;
    if (input[i] === 0x30) i++;
    else if (isDigit(input[i]) && input[i] !== 0x30) while (isDigit(input[i])) i++;
    else return false;
    if (input[i] === 0x2e) {
      if (!isDigit(input[++i])) return false;
      while (isDigit(input[i])) i++;
    }
    if (input[i] === 0x65 || input[i] === 0x45) {
      i++;
      if (input[i] === 0x2b || input[i] === 0x2d) i++;
      if (!isDigit(input[i])) return false;
      while (isDigit(input[i])) i++;
    }
    this.writeBytes(start, i);
    this.pos = i;
    return true;
  }

  /** Byte order of two members' keys (their decoded UTF-8), without allocating. */
  private compareKeys(frame: Frame, a: number, b: number): number {
    const escapedA = frame.escapedKeys?.get(a);
    const escapedB = frame.escapedKeys?.get(b);
    const x = escapedA ?? this.out;
    const y = escapedB ?? this.out;
    const xs = escapedA ? 0 : frame.memberStarts[a]! + 1;
    const xe = escapedA ? escapedA.length : frame.keyEnds[a]! - 1;
    const ys = escapedB ? 0 : frame.memberStarts[b]! + 1;
    const ye = escapedB ? escapedB.length : frame.keyEnds[b]! - 1;
    const n = Math.min(xe - xs, ye - ys);
    for (let i = 0; i < n; i++) {
      const d = x[xs + i]! - y[ys + i]!;
      if (d !== 0) return d;
    }
    return xe - xs - (ye - ys);
  }

  /** Rewrites an object's members in key order, in place; false on a repeated key. */
  private sortMembers(frame: Frame): boolean {
    const count = frame.memberStarts.length;
    const order: number[] = [];
    for (let i = 0; i < count; i++) order.push(i);
    if (count <= 16) {
      // Insertion sort: objects are mostly small, and a comparator call per step costs more than the moves.
      for (let i = 1; i < count; i++) {
        const m = order[i]!;
        let j = i - 1;
        while (j >= 0 && this.compareKeys(frame, order[j]!, m) > 0) {
          order[j + 1] = order[j]!;
          j--;
        }
        order[j + 1] = m;
      }
    } else {
      order.sort((a, b) => this.compareKeys(frame, a, b));
    }
    for (let i = 1; i < count; i++) if (this.compareKeys(frame, order[i - 1]!, order[i]!) === 0) return false;
    const size = this.len - frame.start;
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, 2 * this.scratch.length, 4096));
    const region = this.scratch;
    const out = this.out;
    out.copy(region, 0, frame.start, this.len);
    let at = frame.start;
    for (let i = 0; i < count; i++) {
      const m = order[i]!;
      if (i > 0) out[at++] = 0x2c;
      for (let j = frame.memberStarts[m]! - frame.start, end = frame.memberEnds[m]! - frame.start; j < end; j++) out[at++] = region[j]!;
    }
    return true;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.len + n));
    this.out.copy(grown, 0, 0, this.len);
    this.out = grown;
  }

  private write1(byte: number): void {
    this.ensure(1);
    this.out[this.len++] = byte;
  }

  private write2(a: number, b: number): void {
    this.ensure(2);
    this.out[this.len++] = a;
    this.out[this.len++] = b;
  }

  private writeBytes(from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    if (n > 48) {
      this.len += this.input.copy(this.out, this.len, from, to);
      return;
    }
    // Buffer#copy costs more than a short loop for the few bytes of most tokens.
    const input = this.input;
    const out = this.out;
    let len = this.len;
    for (let i = from; i < to; i++) out[len++] = input[i]!;
    this.len = len;
  }

  private writeString(text: string): void {
    this.ensure(Buffer.byteLength(text));
    this.len += this.out.write(text, this.len, 'utf8');
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function nextSeparatorFrom(input: Buffer, from: number): number {
  const a = input.indexOf(LINE_SEPARATOR, from);
  const b = input.indexOf(PARAGRAPH_SEPARATOR, from);
  return a === -1 ? b : b === -1 ? a : Math.min(a, b);
}

/**
 * The canonical bytes of a JSON document, written in slices (pausing on `slice` between them); input
 * the fast writer declines goes to `canonicalJsonFromText`, which throws `InputError` `invalid_json`
 * naming `file:line:column`.
 */
export async function canonicalJsonBytes(input: Buffer, file: string, slice: TimeSlice): Promise<Buffer> {
  const writer = new CanonicalJsonWriter(input);
  while (!writer.run(VALUES_PER_STEP)) await slice.pause();
  return writer.result ?? Buffer.from(canonicalJsonFromText(input, file), 'utf8');
}
