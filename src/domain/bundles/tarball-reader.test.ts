import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { describe, expect, test } from 'vitest';
import { BuildError } from '../errors.js';
import { readTarball } from './tarball-reader.js';
import { tarEntry } from './tar-entry.js';
import { writeTarball } from './tarball-writer.js';

type EntrySpec = Partial<Header> & { name: string; content?: Buffer };

/** A tar.gz written entry by entry with tar-stream, for headers tarball-writer never produces. */
async function rawTarGz(entries: EntrySpec[]): Promise<Buffer> {
  return gzipSync(await rawTar(entries));
}

async function rawTar(entries: EntrySpec[]): Promise<Buffer> {
  const stream = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: unknown) => void chunks.push(chunk as Buffer));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (const { content, ...header } of entries) stream.entry(header, content ?? Buffer.alloc(0));
  stream.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function rejection(promise: Promise<unknown>): Promise<BuildError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BuildError);
    return error as BuildError;
  }
  throw new Error('expected a BuildError');
}

describe('readTarball', () => {
  test('reads back what tarball-writer writes (one gzip member), in order', async () => {
    const files = [
      { path: '.signatures.json', content: Buffer.from('{"signatures":[]}') },
      { path: 'rbac/policy.rego', content: Buffer.from('package rbac\n') },
      { path: `deep/${'d'.repeat(120)}/data.json`, content: Buffer.from('{"a":1}') },
      { path: 'empty/data.json', content: Buffer.alloc(0) },
    ];
    const tarball = await writeTarball(files);
    const entries = await readTarball(tarball);
    expect(entries.map(({ path, content }) => ({ path, content }))).toEqual(files);
    // Short names keep the leading '/' as written. (A name over 100 bytes goes into the ustar prefix
    // field, and tar-stream's encoder drops a leading '/' there: harmless for OPA, which strips it.)
    expect(entries.slice(0, 2).map((entry) => entry.name)).toEqual(['/.signatures.json', '/rbac/policy.rego']);
    for (const entry of entries) expect([`/${entry.path}`, entry.path]).toContain(entry.name);
  });

  test('tar entries are byte for byte what tar-stream writes for the same name and content', async () => {
    for (const path of ['rbac/policy.rego', `deep/${'d'.repeat(120)}/data.json`, 'empty/data.json', `${'x'.repeat(99)}/${'y'.repeat(99)}/${'z'.repeat(99)}/data.json`]) {
      const content = Buffer.from(path.endsWith('empty/data.json') ? '' : `content of ${path}`);
      const written = await rawTar([{ name: `/${path}`, content, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' }]);
      expect(tarEntry(path, content).equals(written.subarray(0, written.length - 1024))).toBe(true);
    }
  });

  test('skips directories, like OPA, and keeps names without a leading slash as written', async () => {
    const tarball = await rawTarGz([
      { name: 'a/', type: 'directory' },
      { name: 'a/data.json', content: Buffer.from('{}') },
      { name: '/b.rego', content: Buffer.from('package b') },
    ]);
    expect((await readTarball(tarball)).map(({ name, path }) => ({ name, path }))).toEqual([
      { name: 'a/data.json', path: 'a/data.json' },
      { name: '/b.rego', path: 'b.rego' },
    ]);
  });

  test.each<[string, EntrySpec[], RegExp]>([
    ['a symlink', [{ name: 'link.rego', type: 'symlink', linkname: '/etc/passwd' }], /is a symlink/],
    ['a hard link', [{ name: 'a.rego', content: Buffer.from('x') }, { name: 'b.rego', type: 'link', linkname: 'a.rego' }], /is a link/],
    ['a fifo', [{ name: 'f', type: 'fifo' }], /is a fifo/],
    ['a duplicate path', [{ name: '/a.rego', content: Buffer.from('1') }, { name: 'a.rego', content: Buffer.from('2') }], /'a.rego' appears more than once/],
    ['a .. segment', [{ name: '/x/../y.rego', content: Buffer.from('x') }], /'\.\.' segment/],
    ['a ./ prefix', [{ name: './y.rego', content: Buffer.from('x') }], /'\.' or '\.\.' segment/],
    ['an empty segment', [{ name: 'x//y.rego', content: Buffer.from('x') }], /empty/],
    ['a backslash', [{ name: 'x\\y.rego', content: Buffer.from('x') }], /backslash/],
  ])('refuses %s with tarball_invalid', async (_name, entries, message) => {
    const error = await rejection(readTarball(await rawTarGz(entries)));
    expect(error.code).toBe('tarball_invalid');
    expect(error.message).toMatch(message);
  });

  test('refuses input that is not gzip, or gzip that is not tar, or is cut short', async () => {
    expect((await rejection(readTarball(Buffer.from('PK\u0003\u0004 a zip')))).code).toBe('tarball_invalid');
    expect((await rejection(readTarball(gzipSync(Buffer.from('not a tar archive at all'.repeat(40)))))).code).toBe('tarball_invalid');
    const whole = await rawTarGz([{ name: 'a.rego', content: Buffer.alloc(5000, 0x61) }]);
    expect((await rejection(readTarball(whole.subarray(0, whole.length - 20)))).code).toBe('tarball_invalid');
    expect(await readTarball(await rawTarGz([]))).toEqual([]);
  });

  test.each([
    ['maxFiles', { maxFiles: 2 }, /more than 2 files/],
    ['maxFileBytes', { maxFileBytes: 1000 }, /'b.rego' is 1001 bytes; the limit is 1000/],
    ['maxTotalBytes', { maxTotalBytes: 1500 }, /add up to more than 1500 bytes/],
  ])('enforces %s with tarball_too_large', async (_name, limits, message) => {
    const tarball = await rawTarGz([
      { name: 'a.rego', content: Buffer.alloc(600, 0x61) },
      { name: 'b.rego', content: Buffer.alloc(1001, 0x62) },
      { name: 'c.rego', content: Buffer.alloc(10, 0x63) },
    ]);
    const error = await rejection(readTarball(tarball, limits));
    expect(error.code).toBe('tarball_too_large');
    expect(error.message).toMatch(message);
  });

  test('stops inflating a gzip bomb at the limit instead of allocating it', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const error = await rejection(readTarball(bomb, { maxFiles: 10, maxTotalBytes: 1024 * 1024 }));
    expect(error.code).toBe('tarball_too_large');
    expect(error.message).toMatch(/decompresses to more than/);
  });
});
