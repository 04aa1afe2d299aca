import { describe, expect, test } from 'vitest';
import { parseCommitObject, parseLsTree, parseRawDiff, parseSignature } from './git-output-parsers.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

describe('parseLsTree', () => {
  test('maps modes to kinds and keeps tabs and spaces in names', () => {
    const output = `100644 blob ${A}      12\tdir/with space\tand tab.rego\x00100755 blob ${B}       3\trun.sh\x00160000 commit ${A}       -\tsub\x00`;
    expect(parseLsTree(output, 10, () => new Error('too many'))).toEqual([
      { path: 'dir/with space\tand tab.rego', blobId: A, size: 12, kind: 'file' },
      { path: 'run.sh', blobId: B, size: 3, kind: 'executable' },
      { path: 'sub', blobId: A, size: 0, kind: 'submodule' },
    ]);
  });

  test('refuses more entries than the limit', () => {
    const line = `100644 blob ${A}       1\tf\x00`;
    expect(() => parseLsTree(line.repeat(3), 2, () => new Error('too many'))).toThrow('too many');
    expect(parseLsTree(line.repeat(2), 2, () => new Error('too many'))).toHaveLength(2);
  });
});

describe('parseRawDiff', () => {
  test('groups entries by commit for diff-tree --stdin and maps statuses', () => {
    const output = `${A}\x00:000000 100644 ${Z} ${B} A\x00new file\x00:100644 100644 ${A} ${B} R087\x00old\x00new\x00${B}\x00:100644 000000 ${A} ${Z} D\x00gone\x00:100644 120000 ${A} ${B} T\x00t\x00`;
    const byCommit = parseRawDiff(output);
    expect(byCommit.get(A)).toEqual([
      { path: 'new file', status: 'added', newBlobId: B },
      { path: 'new', oldPath: 'old', status: 'renamed', oldBlobId: A, newBlobId: B },
    ]);
    expect(byCommit.get(B)).toEqual([{ path: 'gone', status: 'deleted', oldBlobId: A }, { path: 't', status: 'modified', oldBlobId: A, newBlobId: B }]);
  });
});

describe('parseCommitObject', () => {
  test('reads headers, skips signatures and keeps the whole message', () => {
    const raw = Buffer.from([
      `tree ${A}`, `parent ${B}`, `parent ${A}`,
      'author Ann <ann@x> 1700000000 -0130', 'committer Regent <r@x> 1700000000 +0000',
      'gpgsig -----BEGIN PGP SIGNATURE-----', ' tree fake', ' -----END PGP SIGNATURE-----',
      '', 'subject', '', 'Regent-Request-Id: 1', '',
    ].join('\n'));
    expect(parseCommitObject(B, raw)).toEqual({
      revision: B, tree: A, parents: [B, A],
      author: { name: 'Ann', email: 'ann@x', date: '2023-11-14T20:43:20-01:30' },
      committer: { name: 'Regent', email: 'r@x', date: '2023-11-14T22:13:20+00:00' },
      message: 'subject\n\nRegent-Request-Id: 1',
    });
  });

  test('parses an identity without a name', () => {
    expect(parseSignature('<x@y> 0 +0000')).toEqual({ name: '', email: 'x@y', date: '1970-01-01T00:00:00+00:00' });
  });
});
