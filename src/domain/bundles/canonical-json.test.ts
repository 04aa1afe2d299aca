import { describe, expect, test } from 'vitest';
import { InputError } from '../errors.js';
import {
  canonicalJson,
  canonicalJsonFromText,
  canonicalJsonFromValue,
  compareUtf8,
  decodeUtf8LikeGo,
  findDataOutsideRoots,
  JsonNumber,
  parseJsonData,
  parseYamlData,
} from './canonical-json.js';

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected an InputError');
}

describe('canonicalJsonFromText', () => {
  test.each([
    ['number text is kept', '[1.0, 1e3, 1E+3, -0, 0.000001, 9007199254740993, 123.45678911111111111111111111111111111111111111111111111]', '[1.0,1e3,1E+3,-0,0.000001,9007199254740993,123.45678911111111111111111111111111111111111111111111111]'],
    ['whitespace is dropped', ' {\r\n\t"a" :\n [ true , false , null ] }\n', '{"a":[true,false,null]}'],
    ['keys are sorted, nested objects too', '{"b": {"y": 1, "x": [ {"d": 1, "c": 2} ]}, "a": 0}', '{"a":0,"b":{"x":[{"c":2,"d":1}],"y":1}}'],
    ['U+2028 and U+2029 are escaped', '["a\u2028b\u2029c", "\\u2028"]', '["a\\u2028b\\u2029c","\\u2028"]'],
    ['keys are escaped like values (raw U+2028, an escaped quote, a raw emoji)', '{"k\u2028": 1, "q\\"": 2, "😀": 3}', '{"k\\u2028":1,"q\\"":2,"😀":3}'],
    ['short escapes as Go writes them', '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\"\\\\/\\b\\f\\n\\r\\t"'],
    ['other control characters as lower-case \\u00xx', '"\\u0000\\u0001\\u001F\\u000b"', '"\\u0000\\u0001\\u001f\\u000b"'],
    ['HTML characters and slash stay raw', '"<a href=\\"/x?a&b\\">"', '"<a href=\\"/x?a&b\\">"'],
    ['non-ASCII and DEL stay raw', '["é", "\\u00e9", "€", "\u007f", "😀", "\\ud83d\\ude00"]', '["é","é","€","\u007f","😀","😀"]'],
    ['lone surrogate escapes become U+FFFD', '["\\ud800", "\\udc00x", "\\ud800\\ud800", "\\ude00\\ud83d"]', '["\uFFFD","\uFFFDx","\uFFFD\uFFFD","\uFFFD\uFFFD"]'],
    ['a leading BOM is ignored', '\uFEFF{"a":1}', '{"a":1}'],
    ['scalars at top level', '"x"', '"x"'],
  ])('%s', (_name, input, expected) => {
    expect(canonicalJsonFromText(input, 'data.json')).toBe(expected);
  });

  test('sorts keys by UTF-8 bytes, not UTF-16 code units', () => {
    // U+1F600 is 0xF0 in UTF-8 (after U+E000's 0xEE) but 0xD83D in UTF-16 (before 0xE000).
    const text = '{"\uE000": 1, "\u{1F600}": 2, "z": 3, "é": 4, "": 5}';
    expect(canonicalJsonFromText(text, 'data.json')).toBe('{"":5,"z":3,"é":4,"\uE000":1,"\u{1F600}":2}');
    expect(['\u{1F600}', '\uE000'].sort()).toEqual(['\u{1F600}', '\uE000']);
    expect(['\u{1F600}', '\uE000'].sort(compareUtf8)).toEqual(['\uE000', '\u{1F600}']);
  });

  test('compareUtf8 agrees with byte comparison on random strings', () => {
    const alphabet = ['a', 'é', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1F600}', '\u{10FFFF}'];
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const make = (): string => Array.from({ length: next() % 4 }, () => alphabet[next() % alphabet.length]).join('');
      const a = make();
      const b = make();
      expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
  });

  test('reads bytes like Go: one U+FFFD per invalid UTF-8 byte', () => {
    const bytes = Buffer.concat([Buffer.from('["'), Buffer.from([0xe2, 0x82, 0x41, 0xff, 0xed, 0xa0, 0x80, 0xc3, 0xa9]), Buffer.from('"]')]);
    expect(canonicalJsonFromText(bytes, 'data.json')).toBe('["\uFFFD\uFFFDA\uFFFD\uFFFD\uFFFD\uFFFDé"]');
    expect(decodeUtf8LikeGo(Buffer.from([0xf0, 0x9f, 0x98]))).toBe('\uFFFD\uFFFD\uFFFD');
    expect(decodeUtf8LikeGo(Buffer.from('ok €😀'))).toBe('ok €😀');
  });

  test('rejects a duplicate key, naming file, line and column', () => {
    const error = inputError(() => canonicalJsonFromText('{\n  "a": 1,\n  "b": {"x": 1, "x": 2}\n}', 'rbac/data.json'));
    expect(error.code).toBe('invalid_json');
    expect(error.details).toEqual({ file: 'rbac/data.json', line: 3, column: 17 });
    expect(error.message).toBe('rbac/data.json:3:17: invalid JSON: duplicate object key "x"');
  });

  test.each([
    ['empty input', '', 1, 1],
    ['unclosed object', '{"a": 1', 1, 8],
    ['trailing comma', '[1,]', 1, 4],
    ['missing colon', '{"a" 1}', 1, 6],
    ['leading zero', '[01]', 1, 3],
    ['bare dot', '[1.]', 1, 3],
    ['lone minus', '-', 1, 1],
    ['raw control character', '"a\u0001"', 1, 3],
    ['unknown escape', '"\\q"', 1, 2],
    ['short unicode escape', '"\\u12"', 1, 2],
    ['unterminated string', '"abc', 1, 5],
    ['single quotes', "{'a': 1}", 1, 2],
    ['NaN', '[NaN]', 1, 2],
    ['misspelled literal', '[tru]', 1, 2],
    ['trailing garbage', '{"a":1}\n x', 2, 2],
    ['two documents', '{} {}', 1, 4],
    ['a comment', '{"a": 1 // no\n}', 1, 9],
  ])('rejects %s with invalid_json at line:column', (_name, input, line, column) => {
    const error = inputError(() => canonicalJsonFromText(input, 'd.json'));
    expect(error.code).toBe('invalid_json');
    expect(error.details).toEqual({ file: 'd.json', line, column });
    expect(error.message).toMatch(new RegExp(`^d\\.json:${line}:${column}: invalid JSON: `));
  });

  test('accepts exactly what JSON.parse accepts (random mutations of valid documents)', () => {
    const seeds = ['{"a":[1,2.5,-3e2,{"b":null}],"c":"x\\n","d":true}', '[{"k":"\\u00e9"},[],{},0]', '"str"', '{"":{"":[]}}'];
    const pieces = ['', ' ', '{', '}', '[', ']', ',', ':', '"', '\\', '0', '-', '.', 'e', 'x', 'true', 'nul', '\n', '\u0001'];
    let seed = 42;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const base = seeds[next() % seeds.length] as string;
      const at = next() % (base.length + 1);
      const cut = next() % 3;
      const text = base.slice(0, at) + (pieces[next() % pieces.length] as string) + base.slice(at + cut);
      let native = true;
      try {
        JSON.parse(text);
      } catch {
        native = false;
      }
      let ours = true;
      try {
        parseJsonData(text, 'fuzz.json', { duplicateKeys: 'last-wins' });
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        ours = false;
      }
      expect({ text, ours }).toEqual({ text, ours: native });
      if (ours) {
        accepted++;
        // Canonical output is valid JSON with the same meaning.
        expect(JSON.parse(canonicalJsonFromText(text, 'fuzz.json'))).toEqual(JSON.parse(text));
      }
    }
    expect(accepted).toBeGreaterThan(200);
  });

  test('duplicate keys keep the last value in last-wins mode, as Go does', () => {
    const value = parseJsonData('{"a":1,"b":2,"a":{"z":[3]}}', 'x', { duplicateKeys: 'last-wins' });
    expect(canonicalJson(value)).toBe('{"a":{"z":[3]},"b":2}');
  });

  test('accepts nesting as deep as Go does (10,000) and refuses deeper', () => {
    const deep = `${'[{"a":'.repeat(5000)}1${'}]'.repeat(5000)}`;
    expect(canonicalJsonFromText(deep, 'deep.json')).toBe(deep);
    expect(canonicalJsonFromValue(JSON.parse(deep))).toBe(deep);
    const error = inputError(() => canonicalJsonFromText(`${'['.repeat(10_001)}${']'.repeat(10_001)}`, 'deep.json'));
    expect(error.code).toBe('invalid_json');
    expect(error.message).toContain('nesting deeper than 10000');
    expect(inputError(() => canonicalJsonFromValue(JSON.parse(`${'['.repeat(10_001)}${']'.repeat(10_001)}`))).code).toBe('invalid_data');
  });

  test('reproduces the json.Marshal strings of OPA hash_test.go inputs', () => {
    const mapInput = '{"key1":["element1","element2"],"key2":{"a":0,"b":1,"c":123.45678911111111111111111111111111111111111111111111111}}';
    expect(canonicalJsonFromText(JSON.stringify(JSON.parse(mapInput.replace('123.45678911111111111111111111111111111111111111111111111', '0')), null, 2).replace('"c": 0', '"c": 123.45678911111111111111111111111111111111111111111111111'), 'm')).toBe(mapInput);
    expect(canonicalJsonFromValue('<foo></foo>')).toBe('"<foo></foo>"');
    expect(canonicalJsonFromValue([['foo', 'bar'], 'package example', ['$', 'α', '©', '™']])).toBe('[["foo","bar"],"package example",["$","α","©","™"]]');
  });
});

describe('canonicalJsonFromValue', () => {
  test('writes JS values canonically', () => {
    const value = new Map<string, unknown>([['b', [1, 2.5, -0, 1e21, 12345678901234567890n]], ['a', new JsonNumber('1.50')]]);
    expect(canonicalJsonFromValue(value)).toBe('{"a":1.50,"b":[1,2.5,0,1000000000000000000000,12345678901234567890]}');
    const nullProto = Object.assign(Object.create(null) as object, { y: 'é\u2028', x: null });
    expect(canonicalJsonFromValue(nullProto)).toBe('{"x":null,"y":"é\\u2028"}');
    expect(canonicalJsonFromValue(JSON.parse('{"__proto__": {"p": true}}'))).toBe('{"__proto__":{"p":true}}');
    expect(canonicalJsonFromValue({ s: '\ud800' })).toBe('{"s":"\uFFFD"}');
  });

  test.each([
    ['NaN', Number.NaN],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['undefined', { a: undefined }],
    ['a Date', { at: new Date(0) }],
    ['a Buffer', Buffer.from('x')],
    ['a function', [() => 1]],
    ['a Map with a number key', new Map([[1, 'x']])],
  ])('refuses %s with invalid_data', (_name, value) => {
    expect(inputError(() => canonicalJsonFromValue(value)).code).toBe('invalid_data');
  });

  test('JsonNumber only holds JSON number literals', () => {
    expect(() => new JsonNumber('1.')).toThrow(TypeError);
    expect(() => new JsonNumber('NaN')).toThrow(TypeError);
  });
});

describe('parseYamlData', () => {
  test('reads YAML 1.2 core schema into JSON-ready values', () => {
    const value = parseYamlData('on: yes\noctal: 0o17\nold_octal: 017\nbig: 9007199254740993\nf: 1.5\nn: ~\nlist: [a, "b"]\n1: one\n', 'roles.yaml');
    expect(canonicalJsonFromValue(value)).toBe('{"1":"one","big":9007199254740993,"f":1.5,"list":["a","b"],"n":null,"octal":15,"old_octal":17,"on":"yes"}');
    expect(parseYamlData('', 'empty.yaml')).toBeNull();
    expect(canonicalJsonFromValue(parseYamlData('__proto__: {p: 1}\n', 'p.yaml'))).toBe('{"__proto__":{"p":1}}');
  });

  test.each([
    ['a syntax error', 'a: [1, 2\nb: 3\n', 2],
    ['a duplicate key', 'a: 1\nb: 2\na: 3\n', 3],
    ['an unknown tag (a warning)', 'a: !custom 1\n', 1],
    ['several documents', 'a: 1\n---\nb: 2\n', 2],
    ['an alias', 'a: &x 1\nb: *x\n', 2],
    ['a collection as key', '? [a]\n: 1\n', 1],
    ['a null key', 'a: 1\n~: 2\n', 2],
    ['an infinite number', 'x:\n  - .inf\n', 2],
    ['binary data', 'x: !!binary aGVsbG8=\n', 1],
    ['keys equal once stringified', '1: a\n"1": b\n', 2],
  ])('rejects %s with invalid_yaml naming the line', (_name, text, line) => {
    const error = inputError(() => parseYamlData(text, 'team/data.yaml'));
    expect(error.code).toBe('invalid_yaml');
    expect(error.details).toMatchObject({ file: 'team/data.yaml', line });
    expect(error.message).toMatch(new RegExp(`^team/data\\.yaml:${line}:\\d+: invalid YAML: `));
  });

  test('wraps deep nesting into invalid_yaml instead of a RangeError', () => {
    const error = inputError(() => parseYamlData(`${'['.repeat(20_000)}${']'.repeat(20_000)}`, 'deep.yaml'));
    expect(error.code).toBe('invalid_yaml');
  });
});

describe('findDataOutsideRoots', () => {
  const data = (text: string): unknown => parseJsonData(text, 'data.json');
  test.each([
    ['data inside a root', data('{"a": {"b": 1}}'), [], ['a'], undefined],
    ['anything under a root, even odd keys', data('{"a": {"": 1, "..": 2, "x/y": 3}}'), [], ['a'], undefined],
    ['the empty root owns everything', data('{"x": 1}'), [], [''], undefined],
    ['roots are trimmed of slashes', data('{"a": {"b": {"c": 1}}}'), [], ['/a/b/'], undefined],
    ['a file placed inside a root', data('[1]'), ['a', 'b'], ['a'], undefined],
    ['descends through a prefix of a root', data('{"a": {"b": {"c": 1}}}'), [], ['a/b'], undefined],
    ['an empty object on the way to a root', data('{"a": {}}'), [], ['a/b'], undefined],
    ['a sibling outside every root', data('{"a": {"b": 1}, "z": 1}'), [], ['a'], '/z'],
    ['a non-object at a prefix of a root', data('{"a": 5}'), [], ['a/b'], '/a'],
    ['a sibling of a deeper root', data('{"a": {"b": {}, "c": 1}}'), [], ['a/b'], '/a/c'],
    ['segment prefix, not string prefix', data('{"ab": {}}'), [], ['abc'], '/ab'],
    ['a file directory outside the roots', data('{}'), ['z'], ['a'], '/z'],
    ['a file directory on the way to a root', data('{"b": 1, "c": 2}'), ['a'], ['a/b'], '/a/c'],
    ['a top-level key starting with a dot', data('{".a": {}}'), [], ['a'], '/.a'],
    ['a slash inside a key on the way', data('{"a/b": 1}'), [], ['a/b'], '/a/b'],
    ['a dot-dot key on the way', data('{"a": {"..": {}}}'), [], ['a/b'], '/a/..'],
    ['a non-object top level with roots', data('[1]'), [], ['a'], '/'],
    ['plain objects from YAML', { a: { b: 1 }, y: 2 }, [], ['a'], '/y'],
  ])('%s', (_name, value, base, roots, expected) => {
    expect(findDataOutsideRoots(value, base, roots)).toBe(expected);
  });
});
