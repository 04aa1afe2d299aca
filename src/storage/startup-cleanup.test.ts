import { existsSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { removeInterruptedWrites } from './startup-cleanup.js';

test('a symbolic link in the data directory is never followed: what it points to is left alone', async () => {
  const dataDir = tempDirForTest();
  const elsewhere = tempDirForTest('regent-elsewhere-');
  const old = new Date(Date.now() - 60 * 60_000);
  const plant = (path: string): string => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'x');
    utimesSync(path, old, old);
    return path;
  };
  const foreign = [plant(join(elsewhere, 'refs', 'heads', 'main.lock')), plant(join(elsewhere, 'objects', 'tmp_obj_1')), plant(join(elsewhere, 'tmp', 'regent-opa-x', 'f')), plant(join(elsewhere, 'state', 'a.tmp'))];
  mkdirSync(join(dataDir, 'store.git'), { recursive: true });
  symlinkSync(join(elsewhere, 'refs'), join(dataDir, 'store.git', 'refs'));
  symlinkSync(join(elsewhere, 'objects'), join(dataDir, 'store.git', 'objects'));
  symlinkSync(join(elsewhere, 'tmp'), join(dataDir, 'tmp'));
  symlinkSync(join(elsewhere, 'state'), join(dataDir, 'state'));
  const ours = plant(join(dataDir, 'audit', 'x.tmp'));

  const removed = await removeInterruptedWrites(dataDir, { logger: silentLogger(), now: Date.now() });
  expect(removed).toEqual(['audit/x.tmp']);
  expect(existsSync(ours)).toBe(false);
  for (const path of foreign) expect(existsSync(path), path).toBe(true);
});
