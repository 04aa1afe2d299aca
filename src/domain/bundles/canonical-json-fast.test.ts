import { describe, expect, test } from 'vitest';
import { InputError } from '../errors.js';
import { TimeSlice } from '../time-slice.js';
import { canonicalJsonFromText } from './canonical-json.js';
import { canonicalJsonBytes, CanonicalJsonWriter } from './canonical-json-fast.js';

function fast(text: string): string | undefined {
  const writer = new CanonicalJsonWriter(Buffer.from(text, 'utf8'));
  while (!writer.run(7));
  return writer.result?.toString('utf8');
}

function slow(text: string): string | undefined {
  try {
    return canonicalJsonFromText(text, 'data.json');
  } catch (error) {
    if (error instanceof InputError) return undefined;
    throw error;
  }
}

const EDGE_CASES = [
  '[1.0, 1e3, 1E+3, -0, 0.000001, 9007199254740993, 123.45678911111111111111111111111111111111111111111111111]',
  ' {\r\n\t"a" :\n [ true , false , null ] }\n',
  '{"b": {"y": 1, "x": [ {"d": 1, "c": 2} ]}, "a": 0}',
  '["a\u2028b\u2029c", "\\u2028"]',
  '{"k\u2028": 1, "q\\"": 2, "😀": 3}',
  '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
  '"\\u0000\\u0001\\u001F\\u000b"',
  '"<a href=\\"/x?a&b\\">"',
  '["é", "\\u00e9", "€", "\u007f", "😀", "\\ud83d\\ude00"]',
  '["\\ud800", "\\udc00x", "\\ud800\\ud800", "\\ude00\\ud83d"]',
  '{"\\ud800": 1, "\\ufffd": 2}',
  '{"\\ud800": 1, "a": {"\\ud83d\\ude00": 1, "\uE000": 2}}',
  '{"\uE000": 1, "\u{1F600}": 2, "z": 3, "é": 4, "": 5}',
  '"x"', '1', 'true', 'null', '[]', '{}', '{ }', '[ ]', '[[[[]]]]', '{"a":{"b":{}}}',
  '{"a": 1, "a": 2}', '{"b": 1, "a": 2, "b": 3}', '', ' ', '{', '[1,]', '{"a" 1}', '{"a":1,}', '01', '1.', '-', '+1', 'tru', 'nul',
  '"a\nb"', '"a\tb"', '"a\\x"', '"unterminated', '[1 2]', '{"a":1}x', '"\u0001"', '["\\"\\\\"]', '{"\\\\": "\\\\\\""}',
  '{"a\\"b": 1, "a": 2}', '[1,\u0001 2]', '{"a":\u000b1}', '["ok", "b\u001fc"]', `["${'y'.repeat(300_000)}", "\u0002"]`, '"\\u00"', '[1e, 2]', '[1e5, -1.5E-3]', '{"a":[1,{"c":3,"b":2}],"A":0}', '\n\n"x"\n\n',
];

describe('CanonicalJsonWriter', () => {
  test.each(EDGE_CASES.map((text) => [JSON.stringify(text).slice(0, 60), text]))('gives what canonicalJsonFromText gives, or leaves it to it: %s', (_name, text) => {
    const result = fast(text);
    const expected = slow(text);
    if (result !== undefined) expect(result).toBe(expected);
    // Everything valid without a repeated key is taken by the fast path.
    if (expected !== undefined && !/"a", "a"|"b": 1, "a": 2, "b"|"\\ud800": 1, "\\ufffd"/.test(text)) expect(result).toBe(expected);
  });

  test('agrees with canonicalJsonFromText on random documents', () => {
    let seed = 11;
    const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const strings = ['a', 'b', 'é', '\u2028', 'q"', 'back\\slash', 'tab\t', '😀', '\uE000', '', 'z z', '\u0001', 'ﬀ'];
    const numbers = ['0', '-1', '1.50', '2e10', '1E-2', '12345678901234567890'];
    const value = (depth: number): string => {
      const kind = depth > 3 ? next(4) : next(7);
      if (kind === 0) return JSON.stringify(strings[next(strings.length)]);
      if (kind === 1) return numbers[next(numbers.length)]!;
      if (kind === 2) return ['true', 'false', 'null'][next(3)]!;
      if (kind === 3) return `"${'x'.repeat(next(5))}"`;
      if (kind === 4 || kind === 5) {
        const keys = [...new Set(Array.from({ length: next(5) }, () => strings[next(strings.length)]!))];
        return `{${keys.map((key) => `${' '.repeat(next(2))}${JSON.stringify(key)} :${value(depth + 1)}`).join(',\n')}}`;
      }
      return `[${Array.from({ length: next(4) }, () => value(depth + 1)).join(' , ')}]`;
    };
    for (let i = 0; i < 3000; i++) {
      const text = value(0);
      expect(fast(text)).toBe(slow(text));
    }
  });

  test('works through a large document in slices, giving the same bytes as canonicalJsonFromText', async () => {
    const text = JSON.stringify(Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${(i * 7919) % 20_000}`, { v: i, s: `s${i}`, b: [i, { z: 1, a: 2 }] }])), null, 2);
    const writer = new CanonicalJsonWriter(Buffer.from(text));
    let slices = 1;
    while (!writer.run(2048)) slices++;
    expect(slices).toBeGreaterThan(5);
    expect(writer.result!.toString('utf8')).toBe(canonicalJsonFromText(text, 'data.json'));
    expect((await canonicalJsonBytes(Buffer.from(text), 'data.json', new TimeSlice(1))).toString('utf8')).toBe(canonicalJsonFromText(text, 'data.json'));
  });

  test('input it declines is left to the slow parser, which names the line and column', async () => {
    await expect(canonicalJsonBytes(Buffer.from('{\n  "a": 1,\n  "b": {"x": 1, "x": 2}\n}'), 'rbac/data.json', new TimeSlice())).rejects.toThrow('rbac/data.json:3:17: invalid JSON: duplicate object key "x"');
  });

  test('a leading BOM is ignored and invalid UTF-8 is left to the slow parser (Go reads it as U+FFFD)', async () => {
    expect((await canonicalJsonBytes(Buffer.from('\uFEFF{"b":1, "a":2}'), 'data.json', new TimeSlice())).toString()).toBe('{"a":2,"b":1}');
    const bytes = Buffer.concat([Buffer.from('["'), Buffer.from([0xff]), Buffer.from('"]')]);
    expect((await canonicalJsonBytes(bytes, 'data.json', new TimeSlice())).toString()).toBe(canonicalJsonFromText(bytes, 'data.json'));
  });
});
