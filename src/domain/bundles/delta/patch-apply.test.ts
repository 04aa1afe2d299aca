import { describe, expect, test } from 'vitest';
import { canonicalJsonFromValue } from '../canonical-json.js';
import { escapePath, parsePatchPath } from './data-patch.js';
import { canonicalText, dataTree, nodeAt, sameValue, type ObjectNode } from './data-tree.js';
import { applyPatch } from './patch-apply.js';

function tree(files: Record<string, unknown>): ObjectNode {
  return dataTree(new Map(Object.entries(files).map(([path, value]) => [path, { sha256: path, content: Buffer.from(canonicalJsonFromValue(value)) }])));
}

const patch = (operations: unknown[]): Buffer => Buffer.from(JSON.stringify({ data: operations }));

describe('applyPatch (what an OPA agent does with patch.json)', () => {
  const data = tree({ 'a/data.json': { x: { y: 1 }, list: [1, 2] } });

  test('upsert writes a value and creates missing parents; remove and replace change what exists', () => {
    const text = '{"data":[{"op":"upsert","path":"/a/new/deep","value":{"k":1.0}},{"op":"replace","path":"/a/x/y","value":2},{"op":"remove","path":"/a/list"}]}';
    const result = applyPatch(data, Buffer.from(text), ['a']);
    expect(canonicalText(result)).toBe('{"a":{"new":{"deep":{"k":1.0}},"x":{"y":2}}}');
    // The input is not changed.
    expect(canonicalText(data)).toBe('{"a":{"list":[1,2],"x":{"y":1}}}');
  });

  test.each([
    ['no operations (OPA would read a snapshot without data)', [], /no data operations/],
    ['remove of a missing value', [{ op: 'remove', path: '/a/nope' }], /does not exist/],
    ['replace of a missing value', [{ op: 'replace', path: '/a/nope', value: 1 }], /does not exist/],
    ['a path outside the roots', [{ op: 'upsert', path: '/b/x', value: 1 }], /do not permit data patch/],
    ['an unknown operation', [{ op: 'add', path: '/a/x', value: 1 }], /bad patch operation/],
    ['a parent that is not an object', [{ op: 'upsert', path: '/a/list/0', value: 1 }], /not an object/],
    ['a path naming all of data', [{ op: 'upsert', path: '/', value: {} }], /do not permit|names all of data/],
    ['a bad percent escape', [{ op: 'upsert', path: '/a/%zz', value: 1 }], /error parsing patch path/],
  ])('refuses %s', (_name, operations, message) => {
    expect(() => applyPatch(data, patch(operations), ['a'])).toThrow(message);
  });

  test('paths round-trip through Regent\'s escaping and OPA\'s unescaping', () => {
    for (const keys of [['a', 'b/c', 'd~e', 'f%2Fg', '~01', 'é 😀', '%']]) expect(parsePatchPath(escapePath(keys))).toEqual(keys);
    expect(() => escapePath(['a', ''])).toThrow(/empty/);
  });

  test('sameValue compares values, whatever was taken apart', () => {
    const a = tree({ 'data.json': { a: { b: 1, c: [1, 2] } } });
    const b = tree({ 'a/data.json': { c: [1, 2] }, 'a/b/data.json': 1 });
    expect(sameValue(nodeAt(a, ['a']), nodeAt(b, ['a']))).toBe(true);
    expect(sameValue(nodeAt(a, ['a']), nodeAt(tree({ 'a/data.json': { b: 1, c: [2, 1] } }), ['a']))).toBe(false);
    expect(sameValue(nodeAt(a, ['a']), nodeAt(tree({ 'a/data.json': { b: 1 } }), ['a']))).toBe(false);
  });
});
