import { isUtf8 } from 'node:buffer';
import { isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { InputError } from '../errors.js';

/**
 * OPA's canonical JSON, the form it hashes structured bundle files in (opa:v1/bundle/hash.go `walk`):
 * compact, object keys in UTF-8 byte order, numbers exactly as written (OPA decodes with `json.Number`),
 * strings escaped like Go's `encoding/json` with `SetEscapeHTML(false)`. Writing `data.json` and
 * `.manifest` in this form makes the shipped bytes equal to the bytes OPA hashes.
 *
 * Text is decoded like Go's decoder: invalid UTF-8 becomes one U+FFFD per bad byte, and a `\u` escape
 * naming a lone surrogate becomes U+FFFD, so the canonical form of any input is well-formed UTF-8.
 * Parsing and writing are iterative, so documents as deep as Go accepts (10,000 levels) work.
 *
 * Also here, for the bundle builder: {@link parseYamlData} (repository YAML to JSON-ready values) and
 * {@link findDataOutsideRoots} (OPA's data-versus-manifest-roots rule).
 */

/** A JSON number kept as the literal text it was written with: `1.0` stays `1.0`, `1e3` stays `1e3`. */
export class JsonNumber {
  constructor(readonly text: string) {
    if (!NUMBER.test(text)) throw new TypeError(`not a JSON number literal: ${JSON.stringify(text)}`);
  }
}

/** A parsed JSON document that loses nothing OPA's hash depends on. Objects keep key order. */
export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

export interface ParseJsonOptions {
  /** `reject` (default) refuses a repeated key; `last-wins` keeps the last one, as Go's decoder does. */
  duplicateKeys?: 'reject' | 'last-wins';
}

/** Go's `encoding/json` nesting limit; deeper documents are not valid JSON to OPA. */
const MAX_DEPTH = 10_000;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const NUMBER_AT = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Parses JSON keeping number text and key order. Strips a leading BOM (as OPA's `util.Unmarshal`),
 * rejects trailing text, and throws `InputError` `invalid_json` naming `file:line:column`.
 */
export function parseJsonData(input: string | Uint8Array, file: string, options: ParseJsonOptions = {}): JsonValue {
  return new JsonParser(decodeInput(input), file, treeAssembler(options.duplicateKeys !== 'last-wins')).document();
}

/**
 * The canonical form of JSON text, as {@link parseJsonData} then {@link canonicalJson} would give,
 * written while parsing (no tree), which is about twice as fast on large data files. Duplicate keys
 * are rejected unless `options.duplicateKeys` is `last-wins`.
 */
export function canonicalJsonFromText(input: string | Uint8Array, file: string, options: ParseJsonOptions = {}): string {
  return new JsonParser(decodeInput(input), file, canonicalAssembler(options.duplicateKeys !== 'last-wins')).document();
}

function decodeInput(input: string | Uint8Array): string {
  let text = typeof input === 'string' ? input : decodeUtf8LikeGo(input);
  if (typeof input === 'string' && SURROGATE.test(text)) text = text.replace(LONE_SURROGATE, '\uFFFD');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The canonical form of a parsed document. */
export function canonicalJson(value: JsonValue): string {
  return canonicalJsonFromValue(value);
}

/**
 * The canonical form of a JS value built in code or read from YAML: `null`, booleans, strings, finite
 * numbers (integers written without exponent), bigints, {@link JsonNumber}, arrays, plain objects and
 * Maps with string keys. Anything else throws `InputError` `invalid_data`.
 */
export function canonicalJsonFromValue(value: unknown): string {
  return writeCanonical(value);
}

/** Decodes bytes the way Go's JSON decoder reads strings: each invalid UTF-8 byte becomes U+FFFD. */
export function decodeUtf8LikeGo(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buf)) return buf.toString('utf8');
  const parts: string[] = [];
  let start = 0;
  let i = 0;
  while (i < buf.length) {
    const size = runeLength(buf, i);
    if (size > 0) {
      i += size;
      continue;
    }
    if (i > start) parts.push(buf.toString('utf8', start, i));
    parts.push('\uFFFD');
    start = ++i;
  }
  if (start < buf.length) parts.push(buf.toString('utf8', start));
  return parts.join('');
}

/** Length of the valid UTF-8 sequence at `i` (Go's `utf8.DecodeRune` rules), or 0 when invalid. */
function runeLength(b: Buffer, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => i + k < b.length && ((b[i + k] as number) & 0xc0) === 0x80;
  const c1 = b[i + 1] ?? 0;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2) || (c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    return 4;
  }
  return 0;
}

/** 1-based line and column (in UTF-16 units) of `offset` in `text`. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The offset (in the text as parsed: without a leading BOM) of the deepest object key along `keys` in
 * a JSON document, or of the top-level value when `keys` is empty or its first key is absent; undefined
 * when the text does not parse. For pointing at the key an error is about.
 */
export function jsonKeyOffset(input: string | Uint8Array, keys: readonly string[]): number | undefined {
  type Located = Map<string, [number, Located]> | undefined;
  const locator: Assembler<Located> = {
    string: () => undefined,
    number: () => undefined,
    literal: () => undefined,
    array: () => undefined,
    object: (entries) => new Map(entries.map(([key, value, at]) => [key, [at, value]])),
  };
  const text = decodeInput(input);
  let node: Located;
  try {
    node = new JsonParser(text, '', locator).document();
  } catch {
    return undefined;
  }
  let offset = text.search(/\S/);
  for (const key of keys) {
    const entry = node?.get(key);
    if (!entry) break;
    [offset, node] = entry;
  }
  return offset < 0 ? undefined : offset;
}

/** How the parser turns what it reads into a result: a tree, or canonical text directly. */
interface Assembler<T> {
  string(value: string): T;
  number(text: string): T;
  literal(value: boolean | null): T;
  array(items: T[]): T;
  /** Entries in document order, with the offset of each key for error messages. */
  object(entries: Array<[key: string, value: T, keyAt: number]>, fail: (message: string, at: number) => never): T;
}

function treeAssembler(rejectDuplicates: boolean): Assembler<JsonValue> {
  return {
    string: (value) => value,
    number: (text) => new JsonNumber(text),
    literal: (value) => value,
    array: (items) => items,
    object(entries, fail) {
      const map: JsonObject = new Map();
      for (const [key, value, keyAt] of entries) {
        if (rejectDuplicates && map.has(key)) fail(`duplicate object key ${JSON.stringify(key)}`, keyAt);
        map.set(key, value);
      }
      return map;
    },
  };
}

function canonicalAssembler(rejectDuplicates: boolean): Assembler<string> {
  return {
    string: quoteJsonString,
    number: (text) => text,
    literal: (value) => String(value),
    array: (items) => `[${items.join(',')}]`,
    object(entries, fail) {
      const surrogates = entries.some(([key]) => SURROGATE.test(key));
      // Stable sort: among equal keys the last one in the document stays last.
      entries.sort(surrogates ? (a, b) => compareUtf8(a[0], b[0]) : (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      let out = '{';
      for (let i = 0; i < entries.length; i++) {
        const [key, value] = entries[i] as [string, string, number];
        if (key === entries[i + 1]?.[0]) {
          if (rejectDuplicates) fail(`duplicate object key ${JSON.stringify(key)}`, Math.max(...entries.filter((e) => e[0] === key).map((e) => e[2])));
          continue;
        }
        out += `${out.length > 1 ? ',' : ''}${quoteJsonString(key)}:${value}`;
      }
      return `${out}}`;
    },
  };
}

class JsonParser<T> {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly assemble: Assembler<T>,
  ) {}

  /** Iterative (an explicit stack, not recursion), so any depth Go accepts is parsed. */
  document(): T {
    type Frame = { items: T[]; entries?: undefined } | { entries: Array<[string, T, number]>; key: string; keyAt: number; items?: undefined };
    const stack: Frame[] = [];
    const fail = (message: string, at: number): never => this.fail(message, at);
    this.skipWhitespace();
    for (;;) {
      let value: T;
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x7b || c === 0x5b) {
        if (stack.length >= MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
        this.pos++;
        this.skipWhitespace();
        if (this.text.charCodeAt(this.pos) === (c === 0x7b ? 0x7d : 0x5d)) {
          this.pos++;
          value = c === 0x7b ? this.assemble.object([], fail) : this.assemble.array([]);
        } else {
          const keyAt = this.pos;
          stack.push(c === 0x7b ? { entries: [], key: this.key(), keyAt } : { items: [] });
          continue;
        }
      } else {
        value = this.scalar(c);
      }
      // A value is complete: attach it, then close every container that ends here.
      for (;;) {
        const top = stack[stack.length - 1];
        if (!top) {
          this.skipWhitespace();
          if (this.pos < this.text.length) this.fail('unexpected text after the top-level value');
          return value;
        }
        if (top.entries) top.entries.push([top.key, value, top.keyAt]);
        else top.items.push(value);
        this.skipWhitespace();
        const d = this.text.charCodeAt(this.pos++);
        if (d === 0x2c) {
          this.skipWhitespace();
          if (top.entries) {
            top.keyAt = this.pos;
            top.key = this.key();
          }
          break;
        }
        if (d !== (top.entries ? 0x7d : 0x5d)) this.fail(top.entries ? "expected ',' or '}' after an object value" : "expected ',' or ']' after an array element", this.pos - 1);
        stack.pop();
        value = top.entries ? this.assemble.object(top.entries, fail) : this.assemble.array(top.items);
      }
    }
  }

  /** Reads `"key":` and the whitespace after it. */
  private key(): string {
    if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('expected a string object key');
    const key = this.string();
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':' after an object key");
    this.pos++;
    this.skipWhitespace();
    return key;
  }

  private scalar(c: number): T {
    if (c === 0x22) return this.assemble.string(this.string());
    if (c === 0x74) return this.assemble.literal(this.literal('true', true));
    if (c === 0x66) return this.assemble.literal(this.literal('false', false));
    if (c === 0x6e) return this.assemble.literal(this.literal('null', null));
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.assemble.number(this.number());
    return this.fail(Number.isNaN(c) ? 'unexpected end of input' : `unexpected character ${JSON.stringify(this.text[this.pos])}`);
  }

  private string(): string {
    const text = this.text;
    let i = this.pos + 1;
    let start = i;
    let out = '';
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        this.pos = i + 1;
        return out + text.slice(start, i);
      }
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1] ?? '';
        if (e === 'u') {
          const unit = this.hex4(i + 2);
          const low = unit >= 0xd800 && unit <= 0xdbff && text.startsWith('\\u', i + 6) ? this.hex4(i + 8) : -1;
          if (low >= 0xdc00 && low <= 0xdfff) {
            out += String.fromCharCode(unit, low);
            i += 12;
          } else {
            out += unit >= 0xd800 && unit <= 0xdfff ? '\uFFFD' : String.fromCharCode(unit);
            i += 6;
          }
        } else if (e in ESCAPES) {
          out += ESCAPES[e];
          i += 2;
        } else {
          this.fail('invalid escape in string', i);
        }
        start = i;
      } else if (c < 0x20 || Number.isNaN(c)) {
        this.fail(Number.isNaN(c) ? 'unterminated string' : 'control character in string', i);
      } else {
        i++;
      }
    }
  }

  private hex4(at: number): number {
    const digits = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail('invalid \\u escape in string', at - 2);
    return Number.parseInt(digits, 16);
  }

  private number(): string {
    NUMBER_AT.lastIndex = this.pos;
    const match = NUMBER_AT.exec(this.text);
    if (!match) return this.fail('invalid number');
    this.pos += match[0].length;
    return match[0];
  }

  private literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`unexpected character ${JSON.stringify(this.text[this.pos])}`);
    this.pos += word.length;
    return value;
  }

  private skipWhitespace(): void {
    for (let c = this.text.charCodeAt(this.pos); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; ) {
      c = this.text.charCodeAt(++this.pos);
    }
  }

  private fail(message: string, at = this.pos): never {
    const { line, column } = lineColumnAt(this.text, at);
    throw new InputError('invalid_json', `${this.file}:${line}:${column}: invalid JSON: ${message}`, { file: this.file, line, column });
  }
}

/** Iterative, like the parser, so depth is bounded by MAX_DEPTH and not by the JS stack. */
function writeCanonical(root: unknown): string {
  const stack: Container[] = [];
  let out = '';
  let value = root;
  for (;;) {
    const container = openContainer(value);
    if (container) {
      if (stack.length >= MAX_DEPTH) throw new InputError('invalid_data', `data nests deeper than ${MAX_DEPTH} levels`);
      out += container.keys ? '{' : '[';
      stack.push(container);
    } else {
      out += scalarText(value);
    }
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) return out;
      if (top.next < top.values.length) {
        if (top.next > 0) out += ',';
        if (top.keys) out += `${quoteJsonString(top.keys[top.next] as string)}:`;
        value = top.values[top.next++];
        break;
      }
      out += top.keys ? '}' : ']';
      stack.pop();
    }
  }
}

interface Container {
  values: readonly unknown[];
  /** Sorted keys for an object, undefined for an array. */
  keys: string[] | undefined;
  next: number;
}

const SURROGATE = /[\ud800-\udfff]/;

/** An array or object as children in canonical order, or undefined for a scalar. */
function openContainer(value: unknown): Container | undefined {
  if (Array.isArray(value)) return { values: value, keys: undefined, next: 0 };
  if (value === null || typeof value !== 'object' || value instanceof JsonNumber) return undefined;
  let keys: string[];
  let lookup: (key: string) => unknown;
  if (value instanceof Map) {
    keys = [...(value as Map<unknown, unknown>).keys()] as string[];
    if (keys.some((key) => typeof key !== 'string')) throw new InputError('invalid_data', 'data contains a Map with keys that are not strings');
    lookup = (key) => (value as Map<string, unknown>).get(key);
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new InputError('invalid_data', `data contains a value JSON cannot hold (${describe(value)})`);
    keys = Object.keys(value);
    lookup = (key) => (value as Record<string, unknown>)[key];
  }
  if (!keys.some((key) => SURROGATE.test(key))) {
    // Without surrogates UTF-16 order is UTF-8 order, and the native sort is much faster.
    keys.sort();
    return { values: keys.map(lookup), keys, next: 0 };
  }
  const normalized = keys.map((key) => [key.replace(LONE_SURROGATE, '\uFFFD'), lookup(key)] as const);
  normalized.sort((a, b) => compareUtf8(a[0], b[0]));
  for (let i = 1; i < normalized.length; i++) {
    if (normalized[i - 1]?.[0] === normalized[i]?.[0]) throw new InputError('invalid_data', `duplicate object key ${JSON.stringify(normalized[i]?.[0])}`);
  }
  return { values: normalized.map((entry) => entry[1]), keys: normalized.map((entry) => entry[0]), next: 0 };
}

function scalarText(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return quoteJsonString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof JsonNumber) return value.text;
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'bigint') return value.toString();
  throw new InputError('invalid_data', `data contains a value JSON cannot hold (${describe(value)})`);
}

/** Entries of a JSON object value (a Map or a plain object), or undefined for anything else. */
export function objectEntries(value: unknown): Array<[string, unknown]> | undefined {
  if (value instanceof Map) {
    const entries = [...value.entries()];
    return entries.every(([k]) => typeof k === 'string') ? (entries as Array<[string, unknown]>) : undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  return Object.entries(value);
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new InputError('invalid_data', `data contains the number ${n}, which JSON cannot hold`);
  return Number.isInteger(n) ? BigInt(n).toString() : String(n);
}

function describe(value: unknown): string {
  if (typeof value !== 'object' || value === null) return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };

/** A JSON string as Go's encoder writes it with `SetEscapeHTML(false)`; lone surrogates become U+FFFD. */
export function quoteJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c < 0x2028) continue;
    let escaped: string;
    if (c < 0x20 || c === 0x22 || c === 0x5c) escaped = SHORT_ESCAPES[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029) escaped = `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++;
      continue;
    } else if (c >= 0xd800 && c <= 0xdfff) escaped = '\uFFFD';
    else continue;
    out += s.slice(start, i) + escaped;
    start = i + 1;
  }
  return `${out}${s.slice(start)}"`;
}

/** Orders strings by their UTF-8 bytes (= code points), as Go's `slices.Sort` on map keys does. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (code points >= U+10000) sort after U+E000..U+FFFF in UTF-8 but before them in UTF-16.
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Parses a repository YAML data file (YAML 1.2 core schema: `yes` and `on` are strings) into plain
 * JSON-compatible values: integers as bigint, floats as numbers. Rejects errors and warnings (unknown
 * tags), several documents, aliases, non-scalar or null keys, and values JSON cannot hold, with
 * `InputError` `invalid_yaml` naming `file:line:column`. Ship the result as `data.json`: OPA converts
 * `data.yaml` with YAML 1.1 rules (`sigs.k8s.io/yaml`), which read some scalars differently.
 */
export function parseYamlData(text: string, file: string): unknown {
  try {
    // Aliases are refused by yamlToData (maxAliasCount is a toJS option, and toJS is not used).
    const doc = parseDocument(text, { version: '1.2', schema: 'core', merge: false, uniqueKeys: true, prettyErrors: true, intAsBigInt: true });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) {
      const at = problem.linePos?.[0];
      const message = (problem.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      throw yamlError(file, message, at?.line, at?.col);
    }
    return yamlToData(doc.contents, text, file, 0);
  } catch (error) {
    if (error instanceof InputError) throw error;
    const reason = error instanceof RangeError ? 'nesting too deep' : String((error as Error).message ?? error);
    throw new InputError('invalid_yaml', `${file}: invalid YAML: ${reason}`, { file }, { cause: error });
  }
}

function yamlError(file: string, message: string, line?: number, column?: number): InputError {
  const where = line === undefined ? file : `${file}:${line}:${column ?? 1}`;
  return new InputError('invalid_yaml', `${where}: invalid YAML: ${message}`, { file, line, column });
}

function yamlToData(node: unknown, text: string, file: string, depth: number): unknown {
  if (node === null || node === undefined) return null;
  if (depth > MAX_DEPTH) yamlNodeError(node, text, file, `nesting deeper than ${MAX_DEPTH}`);
  if (isAlias(node)) yamlNodeError(node, text, file, 'aliases are not allowed in data');
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    yamlNodeError(node, text, file, `value ${String(node.source ?? v)} cannot be represented in JSON`);
  }
  if (isSeq(node)) return node.items.map((item) => yamlToData(item, text, file, depth + 1));
  if (!isMap(node)) yamlNodeError(node, text, file, 'unsupported YAML node');
  const out: Record<string, unknown> = {};
  for (const pair of node.items) {
    const k: unknown = isScalar(pair.key) ? pair.key.value : undefined;
    if (!(typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean')) {
      yamlNodeError(pair.key ?? node, text, file, 'map keys must be strings or numbers');
    }
    const key = String(k);
    if (Object.hasOwn(out, key)) yamlNodeError(pair.key, text, file, `duplicate key ${JSON.stringify(key)}`);
    // defineProperty: a `__proto__` key is data, not a prototype change.
    Object.defineProperty(out, key, { value: yamlToData(pair.value, text, file, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function yamlNodeError(node: unknown, text: string, file: string, message: string): never {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  const at = range ? lineColumnAt(text, range[0]) : undefined;
  throw yamlError(file, message, at?.line, at?.column);
}

/**
 * Checks data placed at `basePath` (the data file's directory segments) against manifest `roots` and
 * returns the first path OPA would refuse (`/a/b`, as in OPA's "manifest roots [..] do not permit data
 * at path '/a/b'"), or undefined when all of it is allowed. `value` is a {@link JsonValue} or a plain
 * value from {@link parseYamlData}.
 *
 * The rule is a strict subset of what both OPA checks accept (opa:v1/bundle/bundle.go `dfs` at read,
 * opa:v1/bundle/store.go `doDFS` at activation): a path inside a root is allowed whatever it holds; a
 * path that is a strict segment-prefix of a root must hold an object, whose keys are checked in turn;
 * anything else is refused. While outside every root, keys must be plain segments (not empty, `.`,
 * `..`, no `/`, and no leading `.` at the top), because OPA joins and trims them (`filepath.Join`,
 * `TrimLeft(.., "/.")`) before comparing. Roots are trimmed of `/` as OPA does; a `""` root owns all.
 */
export function findDataOutsideRoots(value: unknown, basePath: readonly string[], roots: readonly string[]): string | undefined {
  const rootSegments = roots.map((root) => root.replace(/^\/+|\/+$/g, '')).map((root) => (root === '' ? [] : root.split('/')));
  if (rootSegments.some((root) => root.length === 0)) return undefined;
  const display = (path: readonly string[]): string => `/${path.join('/')}`;
  const classify = (path: readonly string[]): 'inside' | 'prefix' | 'outside' => {
    if (rootSegments.some((root) => root.length <= path.length && root.every((s, i) => s === path[i]))) return 'inside';
    if (rootSegments.some((root) => root.length > path.length && path.every((s, i) => s === root[i]))) return 'prefix';
    return 'outside';
  };
  const plainKey = (key: string, depth: number): boolean =>
    key !== '' && key !== '.' && key !== '..' && !key.includes('/') && !(depth === 0 && key.startsWith('.'));

  for (let i = 0; i < basePath.length; i++) {
    const path = basePath.slice(0, i + 1);
    const verdict = classify(path);
    if (verdict === 'inside') return undefined;
    if (verdict === 'outside' || !plainKey(basePath[i] as string, i)) return display(path);
  }
  const walk = (node: unknown, path: string[]): string | undefined => {
    const entries = objectEntries(node);
    if (!entries) return display(path);
    for (const [key, child] of entries) {
      const childPath = [...path, key];
      if (!plainKey(key, path.length)) return display(childPath);
      const verdict = classify(childPath);
      if (verdict === 'outside') return display(childPath);
      if (verdict === 'prefix') {
        const found = walk(child, childPath);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(value, [...basePath]);
}
