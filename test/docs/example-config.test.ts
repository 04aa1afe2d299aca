import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, onTestFinished, test } from 'vitest';
import { z } from 'zod';
import { envMapping } from '../../src/config/env-mapping.js';
import { loadConfig } from '../../src/config/load-config.js';
import { configSchema } from '../../src/config/schema.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'regent.example.yaml');

/** Every leaf key of the schema (`log.level`, `environments`, ...), from its JSON Schema. */
function schemaKeys(): string[] {
  const keys: string[] = [];
  const walk = (node: { type?: string; properties?: Record<string, unknown> }, prefix: string): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      const typed = child as { type?: string; properties?: Record<string, unknown> };
      if (typed.type === 'object' && typed.properties) walk(typed, path);
      else keys.push(path);
    }
  };
  walk(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown> }, '');
  return keys;
}

/** The example with its `# key: value` lines (keys without a default) made real. */
function uncommented(): string {
  return readFileSync(EXAMPLE, 'utf8').replace(/^(\s*)# ([a-z][A-Za-z]+): /gm, '$1$2: ');
}

function keysOf(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([name, child]) => keysOf(child, prefix ? `${prefix}.${name}` : name));
}

describe('regent.example.yaml', () => {
  test('loads as it is, as a config file', () => {
    const config = loadConfig({ file: EXAMPLE, env: {} });
    expect(config.signing.privateKeyFile).toBe('/etc/regent/keys/regent.pem');
    expect(config.log.format).toBe('json');
  });

  test('names every key of the schema, and with its commented keys set, every value is valid', () => {
    const file = parse(uncommented()) as Record<string, unknown>;
    const present = new Set(keysOf(file));
    expect(schemaKeys().filter((key) => !present.has(key)), 'keys of src/config/schema.ts missing from regent.example.yaml').toEqual([]);
    const parsed = configSchema.safeParse(file);
    expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'regent-example-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'full.yaml'), uncommented());
    expect(() => loadConfig({ file: join(dir, 'full.yaml'), env: {} })).not.toThrow();
  });

  test('its values are the defaults where the schema has one and the file says so', () => {
    const defaults = configSchema.parse({});
    const file = parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
    const differing = keysOf(file).filter((key) => {
      const [section, name] = key.split('.');
      const value = name === undefined ? file[section!] : file[section!]![name];
      const fallback = name === undefined ? (defaults as Record<string, unknown>)[section!] : ((defaults as unknown as Record<string, Record<string, unknown>>)[section!] ?? {})[name];
      return fallback !== undefined && JSON.stringify(value) !== JSON.stringify(fallback);
    });
    expect(differing).toEqual([]);
  });

  test('names every REGENT_* variable, and so does the README', () => {
    const example = readFileSync(EXAMPLE, 'utf8');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const { env } of envMapping) {
      expect(example, `${env} in regent.example.yaml`).toContain(env);
      expect(readme, `${env} in README.md`).toContain(env);
    }
  });

  test('docs/production.example.yaml, the least a production Regent needs, loads too', () => {
    const config = loadConfig({ file: join(ROOT, 'docs', 'production.example.yaml'), env: {} });
    expect(config).toMatchObject({ dev: false, host: '0.0.0.0', signing: { privateKeyFile: '/etc/regent/keys/regent.pem' }, auth: { secretFile: '/etc/regent/keys/admin-token.secret' } });
  });
});
