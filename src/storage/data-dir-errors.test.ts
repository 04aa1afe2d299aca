import { describe, expect, test } from 'vitest';
import { InputError } from '../domain/errors.js';
import { dataDirDiskError } from './data-dir-errors.js';

const errno = (code: string, path?: string) => Object.assign(new Error(`${code}: failed`), { code, ...(path ? { path } : {}) });

describe('dataDirDiskError', () => {
  test.each([
    ['ENOSPC from a write', errno('ENOSPC', '/data/keys/regent.pem'), 'data_dir_full'],
    ['EDQUOT', errno('EDQUOT'), 'data_dir_full'],
    ['a git process that only says it in its stderr, as a cause', new Error('store could not be opened', { cause: new Error('fatal: write error: No space left on device') }), 'data_dir_full'],
    ['EROFS inside the data directory', errno('EROFS', '/data/audit/audit.jsonl'), 'data_dir_not_writable'],
    ['EACCES inside the data directory', errno('EACCES', '/data/state'), 'data_dir_not_writable'],
  ])('turns %s into %s naming the directory', (_name, error, code) => {
    const mapped = dataDirDiskError(error, '/data');
    expect(mapped).toBeInstanceOf(InputError);
    expect(mapped!.code).toBe(code);
    expect(mapped!.message).toContain('/data');
    expect(mapped!.details).toMatchObject({ field: 'dataDir', dataDir: '/data' });
  });

  test.each([
    ['EACCES outside the data directory (a key file elsewhere)', errno('EACCES', '/etc/regent/key.pem')],
    ['an unrelated error', new Error('opa: not found')],
  ])('leaves %s alone', (_name, error) => {
    expect(dataDirDiskError(error, '/data')).toBeUndefined();
  });
});
