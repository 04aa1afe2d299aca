import { createHash, webcrypto } from 'node:crypto';

/** Inputs at least this large are hashed on libuv's thread pool rather than on the event loop. */
const OFF_THREAD_BYTES = 256 * 1024;

/**
 * Lower-hex SHA-256 of `bytes`. Large inputs go through WebCrypto, which hashes on the thread pool:
 * a 4 MiB data file takes over 10 ms to hash, and builds must not hold the event loop that long.
 */
export async function sha256HexAsync(bytes: Buffer): Promise<string> {
  if (bytes.length < OFF_THREAD_BYTES) return createHash('sha256').update(bytes).digest('hex');
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}
