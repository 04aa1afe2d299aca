import { canonicalJson, parseJsonData, type JsonValue } from '../canonical-json.js';
import { insideRoots, parsePatchPath } from './data-patch.js';
import { objectNode, TextNode, type ObjectNode } from './data-tree.js';

/**
 * Applies a `patch.json` to a bundle's data the way an OPA agent does (opa:v1/bundle/bundle.go `Read`
 * and `validateAndInjectDefaults`, opa:v1/bundle/store.go `applyPatches`), for Regent to check a delta
 * before serving it: the patch is read from its bytes (`{"data": [...]}` with at least one operation,
 * else OPA reads a snapshot), every path lies inside the roots, `upsert` creates missing parent objects
 * and writes, `remove` and `replace` need the value to exist, any other operation is refused. `data` is
 * not changed: the result shares what the patch does not touch. Throws on anything OPA would refuse.
 */
export function applyPatch(data: ObjectNode, patch: Buffer, roots: readonly string[]): ObjectNode {
  const document = parseJsonData(patch, 'patch.json', { duplicateKeys: 'last-wins' });
  const operations = document instanceof Map ? document.get('data') : undefined;
  if (!Array.isArray(operations) || operations.length === 0) throw new Error('patch.json holds no data operations: OPA would read the bundle as a snapshot');
  const result = objectNode(new Map(data.children));
  const owned = new WeakSet<ObjectNode>([result]);
  for (const operation of operations) {
    if (!(operation instanceof Map)) throw new Error('a patch operation is not an object');
    const op = operation.get('op');
    const rawPath = operation.get('path');
    if (typeof rawPath !== 'string') throw new Error('a patch operation has no path');
    if (!insideRoots(rawPath, roots)) throw new Error(`manifest roots [${roots.join(', ')}] do not permit data patch at path '${rawPath}'`);
    const path = parsePatchPath(rawPath);
    if (path.length === 0) throw new Error(`patch path ${JSON.stringify(rawPath)} names all of data`);
    const key = path[path.length - 1]!;
    const value = operation.get('value') as JsonValue | undefined;
    if (op === 'upsert') {
      parentOf(result, path, true, owned).children.set(key, new TextNode(canonicalJson(value ?? null)));
    } else if (op === 'remove' || op === 'replace') {
      const parent = parentOf(result, path, false, owned);
      if (!parent.children.has(key)) throw new Error(`${op}: ${rawPath} does not exist`);
      if (op === 'remove') parent.children.delete(key);
      else parent.children.set(key, new TextNode(canonicalJson(value ?? null)));
    } else {
      throw new Error(`bad patch operation: ${String(op)}`);
    }
  }
  return result;
}

/** The parent object of `path` in `root`, copied before it is changed; created where missing when `create`. */
function parentOf(root: ObjectNode, path: readonly string[], create: boolean, owned: WeakSet<ObjectNode>): ObjectNode {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const child = node.children.get(key);
    let next: ObjectNode;
    if (!child) {
      if (!create) throw new Error(`/${path.join('/')}: parent does not exist`);
      next = objectNode();
    } else if (child.kind === 'object') {
      next = owned.has(child) ? child : objectNode(new Map(child.children));
    } else {
      const members = child.entries();
      if (!members) throw new Error(`/${path.join('/')}: a parent is not an object`);
      next = objectNode(new Map(members));
    }
    owned.add(next);
    node.children.set(key, next);
    node = next;
  }
  return node;
}
