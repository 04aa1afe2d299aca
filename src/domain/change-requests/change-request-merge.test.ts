import { describe, expect, test } from 'vitest';
import type { TreeEntry } from '../store/policy-store.js';
import { changedFiles, planMerge } from './change-request-merge.js';

const file = (path: string, blobId: string): TreeEntry => ({ path, blobId: blobId.padEnd(40, '0'), size: 1, kind: 'file' });

describe('planMerge: a file-level three-way merge of a change request onto a head', () => {
  const base = [file('a.rego', 'a1'), file('b.rego', 'b1'), file('d/data.json', 'd1')];

  test('takes the request\'s files where head still has the base\'s, and keeps head\'s other changes', () => {
    const tip = [file('a.rego', 'a2'), file('d/data.json', 'd1'), file('n.rego', 'n1')];
    const head = [file('a.rego', 'a1'), file('b.rego', 'b1'), file('d/data.json', 'd9')];
    expect(planMerge(base, tip, head)).toEqual({
      conflicts: [],
      operations: [{ path: 'a.rego', after: file('a.rego', 'a2') }, { path: 'b.rego', after: undefined }, { path: 'n.rego', after: file('n.rego', 'n1') }],
    });
  });

  test.each([
    ['both changed a file differently', [file('a.rego', 'a2')], [file('a.rego', 'a3')], ['a.rego']],
    ['the request changed a file head deleted', [file('a.rego', 'a2')], [], ['a.rego']],
    ['the request adds a file where head now has a directory', [file('x', 'x1')], [file('x/y.rego', 'y1')], ['x']],
    ['the request adds a file under a path head made a file', [file('z/y.rego', 'y1')], [file('z', 'z1')], ['z/y.rego']],
  ])('reports a conflict when %s, and plans nothing', (_name, tipExtra, headExtra, conflicts) => {
    const tip = [...base.filter((entry) => !tipExtra.some((extra) => extra.path === entry.path)), ...tipExtra];
    const head = [...base.filter((entry) => entry.path !== 'a.rego' || headExtra.some((extra) => extra.path === 'a.rego')).filter((entry) => !headExtra.some((extra) => extra.path === entry.path)), ...headExtra];
    expect(planMerge(base, tip, head)).toEqual({ conflicts, operations: [] });
  });

  test('a change head already has is neither a conflict nor an operation', () => {
    const tip = [file('a.rego', 'a2'), file('b.rego', 'b1'), file('d/data.json', 'd1')];
    const head = [file('a.rego', 'a2'), file('b.rego', 'b1'), file('d/data.json', 'd1')];
    expect(planMerge(base, tip, head)).toEqual({ conflicts: [], operations: [] });
    expect(changedFiles(base, tip).map((delta) => delta.path)).toEqual(['a.rego']);
  });
});
