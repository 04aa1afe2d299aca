import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The project's own documentation: README, CONTRIBUTING, docs/ (ADRs included), bench/README. */
function documents(): string[] {
  const docs = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? docs(path) : entry.name.endsWith('.md') ? [path] : [];
  });
  return [join(ROOT, 'README.md'), join(ROOT, 'CONTRIBUTING.md'), join(ROOT, 'bench', 'README.md'), ...docs(join(ROOT, 'docs'))];
}

describe('the documentation is complete in a clone', () => {
  test('no document points outside the repository', () => {
    for (const file of documents()) expect(readFileSync(file, 'utf8'), file).not.toMatch(/\.\.\/shared|\/work\/shared/);
  });

  test('every relative link resolves to a file or directory of the repository', () => {
    const broken: string[] = [];
    for (const file of documents()) {
      for (const [, target] of readFileSync(file, 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const path = resolve(dirname(file), target!);
        if (!path.startsWith(ROOT) || !existsSync(path)) broken.push(`${file.slice(ROOT.length + 1)} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('the design notes the project relies on are in docs/', () => {
    for (const name of ['architecture.md', 'opa-protocol.md', 'errors.md']) expect(existsSync(join(ROOT, 'docs', name)), name).toBe(true);
  });
});
