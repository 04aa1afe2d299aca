import { describe, expect, test } from 'vitest';
import { InputError } from '../../domain/errors.js';
import { charsetsOf } from './json-body.js';
import { parseJsonBody } from './json-text.js';

function codeOf(text: string | Buffer, maxDepth = 4): string | undefined {
  try {
    parseJsonBody(Buffer.isBuffer(text) ? text : Buffer.from(text), maxDepth);
    return undefined;
  } catch (error) {
    return (error as InputError).code;
  }
}

describe('parseJsonBody', () => {
  test.each([
    ['[[[[1]]]]', undefined],
    ['[[[[[1]]]]]', 'json_too_deep'],
    ['{"a":{"b":{"c":[1]}}}', undefined],
    ['{"a":{"b":{"c":[{}]}}}', 'json_too_deep'],
    ['[[[["[[[[[[{{{{"]]]]', undefined],
    ['[[[["\\"[[[[[[{{{{\\\\"]]]]', undefined],
    ['["\\\\",[[[[1]]]]]', 'json_too_deep'],
    ['["\\"",[[[1]]]]', undefined],
    ['[1],[[[[[', 'json_too_deep'],
    [`${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'json_too_deep'],
  ])('depth of %s', (text, code) => {
    expect(codeOf(text)).toBe(code);
  });

  test('depth is checked before parsing: a deep body that is not JSON is still too deep', () => {
    expect(codeOf('[[[[[')).toBe('json_too_deep');
    expect(codeOf('[[[[')).toBe('invalid_json');
  });

  test.each([
    [Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), 'invalid_utf8'],
    [Buffer.from([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d]), 'invalid_utf8'],
    [Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]), 'invalid_utf8'],
    [Buffer.from('["\\ud800"]'), 'invalid_utf8'],
    [Buffer.from('["\\uDFFF"]'), 'invalid_utf8'],
    [Buffer.from('["\\ud83d x"]'), 'invalid_utf8'],
    [Buffer.from('["\\ud83d\\u0041"]'), 'invalid_utf8'],
    [Buffer.from('["\\ud83d\\ude00", "\\u00e9", "\\\\ud800"]'), undefined],
    [Buffer.from('["caf\u00e9 \u{1f600}"]'), undefined],
    [Buffer.from('["\\u12"]'), 'invalid_json'],
  ])('encoding of %s', (bytes, code) => {
    expect(codeOf(bytes)).toBe(code);
  });

  test('keeps what it parses, strips a byte order mark, and wants an object or array', () => {
    expect(parseJsonBody(Buffer.from('\ufeff{"a":"\\ud83d\\ude00"}'), 4)).toEqual({ a: '\u{1f600}' });
    expect(parseJsonBody(Buffer.alloc(0), 4)).toEqual({});
    expect(codeOf(' 1')).toBe('invalid_json');
    expect(codeOf('  ')).toBe('invalid_json');
    expect(codeOf('{"a":')).toBe('invalid_json');
  });

  test('json_too_deep names the limit and where', () => {
    try {
      parseJsonBody(Buffer.from('{"a":[[[[1]]]]}'), 4);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).details).toEqual({ field: 'body', limit: 4, offset: 8 });
    }
  });
});

describe('parseJsonBody value limit', () => {
  const refuse = (max: number): Error => new InputError('too_many_values_test', `over ${max}`);
  const countOf = (text: string): number => {
    // The smallest limit that accepts the text is its count of values and keys.
    let max = 0;
    for (;;) {
      try {
        parseJsonBody(Buffer.from(text), 64, { max, refuse });
        return max;
      } catch (error) {
        if ((error as InputError).code !== 'too_many_values_test') throw error;
        max++;
      }
    }
  };

  test.each([
    ['[]', 1],
    ['{}', 1],
    ['[{},{},{}]', 4],
    ['{"a":[1,"x",{}],"b":null}', 8],
    [' [ true , false ,\n-1.5e3 ] ', 4],
    ['["[{,:}]", "\\"", {"k": "v"}]', 6],
    ['[[],[[]],{"a":{}}]', 7],
  ])('%s holds %i values and keys', (text, count) => {
    expect(countOf(text)).toBe(count);
  });

  test('a body over the limit is refused before it is parsed, even when it is not JSON', () => {
    expect(() => parseJsonBody(Buffer.from(`[${'{},'.repeat(10)}`), 64, { max: 5, refuse })).toThrow('over 5');
    expect(parseJsonBody(Buffer.from('[{},{}]'), 64, { max: 3, refuse })).toEqual([{}, {}]);
  });
});

describe('charsetsOf', () => {
  test.each([
    [undefined, []],
    ['application/json', []],
    ['application/json; charset=UTF-8', ['utf-8']],
    ['application/json;charset="utf-16le"', ['utf-16le']],
    ['application/json; charset="a\\"b"', ['a"b']],
    ['application/json; charset="utf-8', ['"utf-8']],
    ['application/json; charset=utf-8; CHARSET=latin1', ['utf-8', 'latin1']],
    ['application/json; charset', []],
  ])('%s', (header, charsets) => {
    expect(charsetsOf(header)).toEqual(charsets);
  });
});
