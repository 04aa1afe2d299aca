import { describe, expect, test } from 'vitest';
import { readTarEntry, tarEntry } from './tar-entry.js';

describe('tar entries', () => {
  test.each([
    ['a short name', 'rbac/policy.rego'],
    ['a name split into ustar prefix and name', `a/${'b'.repeat(120)}/data.json`],
    ['a name only a PAX record can hold', `${'x'.repeat(99)}/${'y'.repeat(99)}/${'z'.repeat(99)}/data.json`],
  ])('read back what they were written with: %s', (_name, path) => {
    const content = Buffer.from(`content of ${path}`);
    const read = readTarEntry(tarEntry(path, content));
    expect(read.name.replace(/^\//, '')).toBe(path);
    expect(read.content.equals(content)).toBe(true);
  });

  test.each([
    ['a changed header byte (checksum)', (entry: Buffer) => void (entry[5] = 0x41)],
    ['padding that is not zeros', (entry: Buffer) => void (entry[entry.length - 1] = 1)],
    ['a type that is not a regular file', (entry: Buffer) => {
      entry[156] = 0x35;
      let sum = 8 * 0x20;
      for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += entry[i]!;
      entry.write(`${sum.toString(8).padStart(6, '0')} `, 148, 'latin1');
    }],
  ])('refuse an entry with %s', (_name, corrupt) => {
    const entry = tarEntry('a/data.json', Buffer.from('{"a":1}'));
    corrupt(entry);
    expect(() => readTarEntry(entry)).toThrow(/tar entry/);
  });
});
