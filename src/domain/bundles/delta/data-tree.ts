import type { TimeSlice } from '../../time-slice.js';
import { compareUtf8, quoteJsonString } from '../canonical-json.js';
import type { ShippedData } from './bundle-contents.js';

/**
 * A bundle's data as OPA assembles it (each data file's value placed at its directory, files merged),
 * kept lazily: a data file stays one piece of canonical JSON text until something needs to look inside
 * it, and a piece is taken apart one level at a time. Comparing two revisions' data then costs in
 * proportion to what changed: unchanged files compare by digest, unchanged values by their text.
 */

/** The data cannot be expressed as a patch OPA applies the same way (Regent serves the snapshot). */
export class DeltaUnsupported extends Error {}

export type DataNode = TextNode | ObjectNode;

/** A value as canonical JSON text (a whole data file carries its digest). */
export class TextNode {
  readonly kind = 'text';
  private decoded: string | undefined;
  /** Members, once taken apart (objects only). */
  private members: Map<string, DataNode> | undefined;

  constructor(private readonly source: Buffer | string, readonly sha256?: string) {}

  /** The members of this object value, taken apart once; undefined when it is not an object. */
  entries(): Map<string, DataNode> | undefined {
    if (!this.isObject) return undefined;
    this.members ??= objectEntries(this.text);
    return this.members;
  }

  /** {@link entries}, pausing on `slice` while a large object is taken apart. */
  async entriesSliced(slice: TimeSlice): Promise<Map<string, DataNode> | undefined> {
    if (!this.isObject) return undefined;
    this.members ??= await objectEntriesSliced(this.text, slice);
    return this.members;
  }

  get text(): string {
    this.decoded ??= typeof this.source === 'string' ? this.source : this.source.toString('utf8');
    return this.decoded;
  }

  get isObject(): boolean {
    return typeof this.source === 'string' ? this.source.charCodeAt(0) === 0x7b : this.source[0] === 0x7b;
  }
}

/** An object whose members are known one by one (a directory level, or a value taken apart). */
export interface ObjectNode {
  kind: 'object';
  children: Map<string, DataNode>;
}

export function objectNode(children: Map<string, DataNode> = new Map()): ObjectNode {
  return { kind: 'object', children };
}

/** The data of a bundle: every data file (bundle path `a/b/data.json`) placed at its directory and merged. */
export function dataTree(files: ReadonlyMap<string, ShippedData>): ObjectNode {
  const root = objectNode();
  for (const [path, file] of files) {
    const segments = path.split('/').slice(0, -1);
    const value = new TextNode(file.content, file.sha256);
    if (segments.length === 0) {
      mergeInto(root, value);
      continue;
    }
    let node = root;
    for (const segment of segments.slice(0, -1)) node = ownObjectChild(node, segment);
    const last = segments[segments.length - 1]!;
    const existing = node.children.get(last);
    node.children.set(last, existing ? merged(existing, value) : value);
  }
  return root;
}

/** The members of an object value, or undefined for anything else. Text is taken apart once. */
export function childrenOf(node: DataNode): Map<string, DataNode> | undefined {
  return node.kind === 'object' ? node.children : node.entries();
}

/** {@link childrenOf}, pausing on `slice` while large text is taken apart. */
export async function childrenOfSliced(node: DataNode, slice: TimeSlice): Promise<Map<string, DataNode> | undefined> {
  return node.kind === 'object' ? node.children : node.entriesSliced(slice);
}

/** The value at `segments` under `root`, or undefined where there is none. */
export function nodeAt(root: DataNode, segments: readonly string[]): DataNode | undefined {
  let node: DataNode | undefined = root;
  for (const segment of segments) {
    node = node && childrenOf(node)?.get(segment);
    if (!node) return undefined;
  }
  return node;
}

/** The canonical JSON text of a value. */
export function canonicalText(node: DataNode): string {
  if (node.kind === 'text') return node.text;
  const keys = [...node.children.keys()].sort(compareUtf8);
  return `{${keys.map((key) => `${quoteJsonString(key)}:${canonicalText(node.children.get(key)!)}`).join(',')}}`;
}

/** Whether two values are equal (canonical text is unique per value, so equal text is equal value). */
export function sameValue(a: DataNode | undefined, b: DataNode | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  if (a.kind === 'text' && b.kind === 'text') {
    if (a.sha256 !== undefined && b.sha256 !== undefined && a.sha256 === b.sha256) return true;
    if (!a.isObject || !b.isObject) return a.text === b.text;
    if (a.text === b.text) return true;
  }
  const ca = childrenOf(a);
  const cb = childrenOf(b);
  if (!ca || !cb) return false;
  if (ca.size !== cb.size) return false;
  for (const [key, value] of ca) if (!sameValue(value, cb.get(key))) return false;
  return true;
}

/** The members of canonical object text, each as text, in document (canonical) order. */
export function objectEntries(text: string): Map<string, DataNode> {
  const reader = new EntryReader(text);
  while (!reader.read(Number.POSITIVE_INFINITY));
  return reader.entries;
}

async function objectEntriesSliced(text: string, slice: TimeSlice): Promise<Map<string, DataNode>> {
  const reader = new EntryReader(text);
  while (!reader.read(256)) await slice.pause();
  return reader.entries;
}

/** Takes canonical object text apart member by member, resumably. */
class EntryReader {
  readonly entries = new Map<string, DataNode>();
  private i = 1;

  constructor(private readonly text: string) {
    if (text.charCodeAt(0) !== 0x7b) throw new DeltaUnsupported('not an object');
    if (text.charCodeAt(1) === 0x7d) this.i = -1;
  }

  /** Reads up to `budget` members; true when done. */
  read(budget: number): boolean {
    const text = this.text;
    for (let n = 0; n < budget; n++) {
      if (this.i < 0) return true;
      const keyEnd = stringEnd(text, this.i);
      const rawKey = text.slice(this.i, keyEnd);
      const key = rawKey.includes('\\') ? (JSON.parse(rawKey) as string) : rawKey.slice(1, -1);
      if (text.charCodeAt(keyEnd) !== 0x3a) throw new DeltaUnsupported('malformed canonical JSON');
      const valueEnd = valueEndAt(text, keyEnd + 1);
      this.entries.set(key, new TextNode(text.slice(keyEnd + 1, valueEnd)));
      const c = text.charCodeAt(valueEnd);
      if (c === 0x7d) this.i = -1;
      else if (c === 0x2c) this.i = valueEnd + 1;
      else throw new DeltaUnsupported('malformed canonical JSON');
    }
    return this.i < 0;
  }
}

/** The child `key` of `node` as an object this tree owns: created when missing, text taken apart. */
function ownObjectChild(node: ObjectNode, key: string): ObjectNode {
  const child = node.children.get(key);
  if (child?.kind === 'object') return child;
  if (child && !child.isObject) throw new DeltaUnsupported(`data at '${key}' is not an object but other data files sit below it`);
  const owned = objectNode(child ? objectEntries(child.text) : new Map());
  node.children.set(key, owned);
  return owned;
}

/** OPA's merge of data files at overlapping places: objects merge member by member; anything else conflicts. */
function merged(a: DataNode, b: DataNode): ObjectNode {
  const ca = childrenOf(a);
  if (!ca) throw new DeltaUnsupported('data files conflict');
  const result = objectNode(new Map(ca));
  mergeInto(result, b);
  return result;
}

function mergeInto(target: ObjectNode, value: DataNode): void {
  const members = childrenOf(value);
  if (!members) throw new DeltaUnsupported('data files conflict');
  for (const [key, child] of members) {
    const existing = target.children.get(key);
    target.children.set(key, existing ? merged(existing, child) : child);
  }
}

/** The index just after the string that starts at `start`. */
function stringEnd(text: string, start: number): number {
  if (text.charCodeAt(start) !== 0x22) throw new DeltaUnsupported('malformed canonical JSON');
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw new DeltaUnsupported('malformed canonical JSON');
    let backslashes = 0;
    for (let k = quote - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The index just after the value that starts at `start` (canonical text: no whitespace). */
function valueEndAt(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === 0x22) return stringEnd(text, start);
  if (first !== 0x7b && first !== 0x5b) {
    let j = start;
    for (let c = text.charCodeAt(j); c !== 0x2c && c !== 0x7d && c !== 0x5d && j < text.length; c = text.charCodeAt(++j));
    if (j === start) throw new DeltaUnsupported('malformed canonical JSON');
    return j;
  }
  let depth = 0;
  for (let j = start; j < text.length; ) {
    const c = text.charCodeAt(j);
    if (c === 0x22) {
      j = stringEnd(text, j);
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0) return j + 1;
    j++;
  }
  throw new DeltaUnsupported('malformed canonical JSON');
}
