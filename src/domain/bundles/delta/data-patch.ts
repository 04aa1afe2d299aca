import { compareUtf8, quoteJsonString } from '../canonical-json.js';
import type { TimeSlice } from '../../time-slice.js';
import { canonicalText, childrenOfSliced, DeltaUnsupported, nodeAt, type DataNode, type ObjectNode } from './data-tree.js';

/**
 * The `data` operations of OPA's `patch.json` (opa:v1/bundle/store.go `applyPatches`): `upsert` writes a
 * value, creating missing parent objects; `remove` deletes a value that must exist. Regent writes only
 * these two; paths are JSON-pointer-like, each key escaped as OPA unescapes it (`%` as `%25`, then
 * `~` as `~0` and `/` as `~1`, opa:v1/storage `ParsePatchPathEscaped`).
 */
export interface PatchOperation {
  op: 'upsert' | 'remove';
  path: readonly string[];
  value?: DataNode;
}

/**
 * The operations that turn `before` into `after` under each of `roots` (and nothing outside them), in
 * a fixed order: roots as listed, keys in byte order, depth first. Values are compared as they are:
 * an operation is written at the deepest key where a value differs, or is missing on one side, and
 * objects are compared member by member, arrays and scalars as a whole.
 */
export async function diffData(before: ObjectNode, after: ObjectNode, roots: readonly string[], slice: TimeSlice): Promise<PatchOperation[]> {
  const operations: PatchOperation[] = [];
  for (const root of roots) {
    const segments = root === '' ? [] : root.split('/');
    await diffNode(nodeAt(before, segments), nodeAt(after, segments), segments, operations, slice);
  }
  return operations;
}

async function diffNode(before: DataNode | undefined, after: DataNode | undefined, path: string[], out: PatchOperation[], slice: TimeSlice): Promise<void> {
  if (before === after) return;
  if (!after) {
    out.push({ op: 'remove', path });
    return;
  }
  if (!before) {
    out.push({ op: 'upsert', path, value: after });
    return;
  }
  if (before.kind === 'text' && after.kind === 'text') {
    if (before.sha256 !== undefined && before.sha256 === after.sha256) return;
    if (!before.isObject || !after.isObject) {
      if (before.text !== after.text) out.push({ op: 'upsert', path, value: after });
      return;
    }
    if (before.text === after.text) return;
  }
  const a = await childrenOfSliced(before, slice);
  const b = await childrenOfSliced(after, slice);
  if (!a || !b) {
    out.push({ op: 'upsert', path, value: after });
    return;
  }
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort(compareUtf8);
  for (const key of keys) {
    await diffNode(a.get(key), b.get(key), [...path, key], out, slice);
    if (slice.due) await slice.pause();
  }
}

/**
 * An operation that changes nothing (the first scalar under the roots written again with its own
 * value), for a revision whose data equals the previous one's: a delta must hold at least one
 * operation (OPA reads an empty `patch.json` as a snapshot with no data), and this one still moves
 * the agent to the new revision. Undefined when the roots hold no small scalar on the first path down.
 */
export async function noChangeOperation(data: ObjectNode, roots: readonly string[], slice: TimeSlice): Promise<PatchOperation | undefined> {
  for (const root of roots) {
    const path = root === '' ? [] : root.split('/');
    let node = nodeAt(data, path);
    while (node) {
      const children = await childrenOfSliced(node, slice);
      if (!children) return path.length > 0 && canonicalText(node).length <= 1024 ? { op: 'upsert', path, value: node } : undefined;
      const first = [...children.keys()].sort(compareUtf8)[0];
      if (first === undefined) break;
      path.push(first);
      node = children.get(first);
    }
  }
  return undefined;
}

/** `patch.json`: `{"data":[{"op":..,"path":..,"value":..},..]}`, values in canonical JSON. */
export function patchJson(operations: readonly PatchOperation[]): Buffer {
  const parts = operations.map((operation) => {
    const path = quoteJsonString(escapePath(operation.path));
    return operation.value === undefined ? `{"op":"${operation.op}","path":${path}}` : `{"op":"${operation.op}","path":${path},"value":${canonicalText(operation.value)}}`;
  });
  return Buffer.from(`{"data":[${parts.join(',')}]}`, 'utf8');
}

/**
 * `/a/b` for the keys `a`, `b`. Refuses an empty key: OPA trims `/` from both ends of a patch path,
 * so a path cannot end (or start) with one.
 */
export function escapePath(path: readonly string[]): string {
  if (path.length === 0) throw new DeltaUnsupported('a patch cannot replace all of data');
  return path.map((key) => {
    if (key === '') throw new DeltaUnsupported('a key is empty');
    return `/${key.replaceAll('%', '%25').replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }).join('');
}

/** OPA's reading of a patch path: trim `/`, split, percent-unescape each key, then `~1` and `~0`. */
export function parsePatchPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return [];
  return trimmed.split('/').map((segment) => percentDecode(segment, path).replaceAll('~1', '/').replaceAll('~0', '~'));
}

function percentDecode(segment: string, path: string): string {
  if (!segment.includes('%')) return segment;
  const encoded = Buffer.from(segment, 'utf8');
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] !== 0x25) {
      bytes.push(encoded[i]!);
      continue;
    }
    const hex = encoded.toString('latin1', i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`error parsing patch path ${JSON.stringify(path)}`);
    bytes.push(Number.parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** OPA's `RootPathsContain` on a patch path as written (escaped): some root is a key-wise prefix. */
export function insideRoots(path: string, roots: readonly string[]): boolean {
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  return roots.some((root) => root === '' || root.split('/').every((segment, i) => segments[i] === segment));
}
