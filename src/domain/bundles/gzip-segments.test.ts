import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { compressSegment, crc32, crc32Portable, DEFLATE_WINDOW, gzipFrame, segmentDecodesTo } from './gzip-segments.js';

const text = (n: number, seed: string): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => `${seed}-${i % 97} `).join('').slice(0, n));

describe('gzip segments', () => {
  test('segments compressed after their window, framed, are one gzip member that inflates to the input', async () => {
    const parts = [text(40_000, 'a'), text(70_000, 'b'), text(10, 'c'), randomBytes(5000)];
    const segments: Buffer[] = [];
    let before = Buffer.alloc(0);
    for (const part of parts) {
      const window = before.subarray(Math.max(0, before.length - DEFLATE_WINDOW));
      const segment = await compressSegment(part, window);
      expect(await segmentDecodesTo(segment, window, part)).toBe(true);
      segments.push(segment);
      before = Buffer.concat([before, part]);
    }
    const tarball = gzipFrame(segments, crc32(before), before.length);
    expect(zlib.gunzipSync(tarball).equals(before)).toBe(true);
    // One member: the deflate stream after the header holds everything, the trailer is its CRC and size.
    expect(zlib.inflateRawSync(tarball.subarray(10, -8)).equals(before)).toBe(true);
    // As small as one pass over the whole input at the same level (within a few block boundaries).
    expect(tarball.length).toBeLessThan(zlib.gzipSync(before, { level: 6 }).length + 200);
  });

  test('a segment is only accepted with the window it was made after, complete, and without a final block', async () => {
    const window = text(DEFLATE_WINDOW, 'w');
    const raw = Buffer.concat([window.subarray(0, 20_000), text(1000, 'x')]);
    const segment = await compressSegment(raw, window);
    expect(await segmentDecodesTo(segment, window, raw)).toBe(true);
    expect(await segmentDecodesTo(segment, text(DEFLATE_WINDOW, 'other'), raw)).toBe(false);
    expect(await segmentDecodesTo(segment.subarray(0, segment.length - 10), window, raw)).toBe(false);
    expect(await segmentDecodesTo(segment, window, Buffer.concat([raw, Buffer.from('!')]))).toBe(false);
    // Ended with a final block (then a sync marker, so it looks like a segment): the stream would stop here.
    const final = Buffer.concat([zlib.deflateRawSync(raw, { dictionary: window }), Buffer.from([0, 0, 0xff, 0xff])]);
    expect(await segmentDecodesTo(final, window, raw)).toBe(false);
  });

  test('the portable CRC-32 (Node 20 before 20.15) agrees with zlib, also when continued', () => {
    const a = randomBytes(10_000);
    const b = randomBytes(333);
    expect(crc32Portable(a)).toBe(zlib.crc32(a));
    expect(crc32Portable(b, crc32Portable(a))).toBe(zlib.crc32(Buffer.concat([a, b])));
  });
});
