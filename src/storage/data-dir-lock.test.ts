import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { InputError } from '../domain/errors.js';
import { DataDirLock, LOCK_FILE } from './data-dir-lock.js';

async function acquire(dir: string, options: Parameters<typeof DataDirLock.acquire>[1] = {}): Promise<DataDirLock> {
  const lock = await DataDirLock.acquire(dir, options);
  onTestFinished(() => lock.release());
  return lock;
}

async function refusal(run: () => Promise<unknown>): Promise<InputError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('DataDirLock', () => {
  test('a second lock on the same directory is refused naming the directory and the holder pid, until the first is released', async () => {
    const dir = tempDirForTest('regent-lock-');
    const first = await acquire(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });

    const error = await refusal(() => DataDirLock.acquire(dir, { waitSeconds: 0.2 }));
    expect(error.code).toBe('data_dir_in_use');
    expect(error.message).toContain(dir);
    expect(error.message).toContain(`pid ${process.pid}`);
    expect(error.details).toMatchObject({ field: 'dataDir', pid: process.pid });

    await first.release();
    const second = await acquire(dir, { waitSeconds: 0.2 });
    expect(second.holderPid).toBeGreaterThan(0);
  });

  test('the lock is released when its holder dies, and the owner is told it lost it', async () => {
    const dir = tempDirForTest('regent-lock-');
    const lock = await acquire(dir);
    const lost = new Promise<string>((resolve) => lock.onLost(resolve));
    process.kill(lock.holderPid!, 'SIGKILL');
    expect(await lost).toContain('SIGKILL');
    await acquire(dir, { waitSeconds: 2 });
  });

  test('without a usable flock binary the lock is unavailable, with the reason', async () => {
    const dir = tempDirForTest('regent-lock-');
    const error = await refusal(() => DataDirLock.acquire(dir, { flockPath: join(dir, 'no-such-flock') }));
    expect(error.code).toBe('data_dir_lock_unavailable');
    expect(error.message).toContain('util-linux');
  });

  test('a missing data directory is reported, not waited for', async () => {
    const dir = join(tempDirForTest('regent-lock-'), 'missing');
    const error = await refusal(() => DataDirLock.acquire(dir));
    expect(error.code).toBe('data_dir_lock_unavailable');
    expect(error.message).toContain(dir);
  });
});
