import { isUtf8 } from 'node:buffer';
import { isMap, isScalar, parseDocument, type Node } from 'yaml';
import { jsonKeyOffset, lineColumnAt } from './canonical-json.js';

/** 1-based line and column (UTF-16 units) in a repository file. */
export interface FilePosition {
  line: number;
  column: number;
}

/**
 * Where in a data file (`data.json` or `data.yaml`) the value at `keys` is declared: the deepest key
 * of the path found, or the top-level value for `[]`. Used on the error path only (a data file outside
 * its bundle's roots, a top level that is not an object), so it parses the file again.
 */
export function dataKeyPosition(file: string, text: string, keys: readonly string[]): FilePosition | undefined {
  if (file.endsWith('.json')) {
    const offset = jsonKeyOffset(text, keys);
    // jsonKeyOffset counts in the text without a BOM; so does every invalid_json position.
    return offset === undefined ? undefined : lineColumnAt(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, offset);
  }
  try {
    const doc = parseDocument(text, { version: '1.2', schema: 'core', merge: false, uniqueKeys: false });
    let node = doc.contents as Node | null;
    let at = node?.range?.[0];
    for (const key of keys) {
      if (!isMap(node)) break;
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
      if (!pair) break;
      at = (pair.key as Node).range?.[0] ?? at;
      node = pair.value as Node | null;
    }
    return at === undefined ? undefined : lineColumnAt(text, at);
  } catch {
    return undefined;
  }
}

/** Where the first byte that is not UTF-8 is, or undefined when all of `bytes` is UTF-8. */
export function firstInvalidUtf8Position(bytes: Buffer): FilePosition | undefined {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i]!;
    const size = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (size === 0 || i + size > bytes.length || !isUtf8(bytes.subarray(i, i + size))) {
      const lineStart = i === 0 ? 0 : bytes.lastIndexOf(0x0a, i - 1) + 1;
      const line = bytes.subarray(0, lineStart).reduce((count, byte) => count + (byte === 0x0a ? 1 : 0), 1);
      return { line, column: bytes.toString('utf8', lineStart, i).length + 1 };
    }
    i += size;
  }
  return undefined;
}
