import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ERROR_CODES } from '../../src/domain/error-codes.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Strings on code-bearing lines that look like codes but are not (field names). Keep it small. */
const NOT_CODES = new Set(['resource_type', 'service_name']);

/** Every non-test `.ts` file under src/. */
function sourceFiles(dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * The codes src/ throws or returns, found as the outside check finds them and a little wider: every
 * 'snake_case' string on a line that builds an error (`Error(`), sets a code (`code:`, `code =`), names
 * one (`...Code`), or fails through a helper (`fail(`).
 */
function codesThrownInSource(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles()) {
    readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
      if (!/Error\(|code[:=]|Code\b|fail\(/.test(line)) return;
      for (const match of line.matchAll(/'([a-z]+(?:_[a-z]+)+)'/g)) {
        if (!found.has(match[1]!)) found.set(match[1]!, `${relative(ROOT, file)}:${index + 1}`);
      }
    });
  }
  return found;
}

/** Codes in the first column of the tables of docs/errors.md. */
function documentedCodes(): Set<string> {
  const codes = new Set<string>();
  for (const line of readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').split('\n')) {
    if (!line.startsWith('|') || line.startsWith('|---')) continue;
    for (const match of (line.split('|')[1] ?? '').matchAll(/`([a-z]+(?:_[a-z0-9]+)*)`/g)) codes.add(match[1]!);
  }
  return codes;
}

describe('error codes are declared once and documented', () => {
  test('every code thrown or returned in src/ is in docs/errors.md and in ERROR_CODES', () => {
    const documented = documentedCodes();
    const thrown = codesThrownInSource();
    const undocumented = [...thrown].filter(([code]) => !NOT_CODES.has(code) && !documented.has(code)).map(([code, where]) => `${code} (${where})`);
    const undeclared = [...thrown].filter(([code]) => !NOT_CODES.has(code) && !Object.hasOwn(ERROR_CODES, code)).map(([code, where]) => `${code} (${where})`);
    expect(undocumented, 'add these codes to a table of docs/errors.md').toEqual([]);
    expect(undeclared, 'add these codes to src/domain/error-codes.ts').toEqual([]);
    expect(thrown.size).toBeGreaterThan(100);
  });

  test('ERROR_CODES and the tables of docs/errors.md list the same codes', () => {
    const documented = documentedCodes();
    expect([...documented].filter((code) => !Object.hasOwn(ERROR_CODES, code)), 'documented but not in ERROR_CODES').toEqual([]);
    expect(Object.keys(ERROR_CODES).filter((code) => !documented.has(code)), 'in ERROR_CODES but not documented').toEqual([]);
  });

  test('each code is documented in the section ERROR_CODES names', () => {
    const bySection = new Map<string, Set<string>>();
    let section = '';
    for (const line of readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').split('\n')) {
      const heading = /^## (.*)$/.exec(line);
      if (heading) section = heading[1]!.replace(/\s*\(.*$/, '').replaceAll('`', '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
      else if (line.startsWith('|')) for (const match of (line.split('|')[1] ?? '').matchAll(/`([a-z_0-9]+)`/g)) bySection.set(section, (bySection.get(section) ?? new Set()).add(match[1]!));
    }
    const misplaced = Object.entries(ERROR_CODES).filter(([code, where]) => !bySection.get(where)?.has(code)).map(([code, where]) => `${code} → ${where}`);
    expect(misplaced).toEqual([]);
  });

  test('the allow-list of non-codes holds only strings that are really on code-bearing lines', () => {
    const thrown = codesThrownInSource();
    for (const name of NOT_CODES) expect(thrown.has(name), `${name} is no longer found; drop it from NOT_CODES`).toBe(true);
  });
});
