import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../domain/errors.js';
import { envMapping, fileOnlyKeys } from './env-mapping.js';
import { configSchema, type RegentConfig } from './schema.js';

export interface LoadConfigOptions {
  /** Path of a YAML config file (optional). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Highest-precedence overrides (command-line flags). */
  overrides?: Record<string, unknown>;
}

/**
 * Parses the configuration once: defaults < YAML file < REGENT_* env < overrides. Returns a deeply
 * frozen object. Fails with an `InputError` naming the bad key (`details.field`) and its source.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<RegentConfig> {
  const env = options.env ?? process.env;
  const file = options.file ?? env.REGENT_CONFIG;
  const fromFile = file ? readYamlFile(file) : {};
  const merged = deepMerge(deepMerge(fromFile, fromEnv(env)), options.overrides ?? {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    throw new InputError('invalid_config', `invalid configuration at '${field}': ${issue.message}`, { field, issues: z.treeifyError(parsed.error) });
  }
  return deepFreeze(parsed.data);
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError('invalid_config', `cannot read config file '${file}'`, { file }, { cause: error });
  }
  try {
    const value: unknown = parseYaml(text, { version: '1.2', maxAliasCount: 0, uniqueKeys: true });
    if (value === null || value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error('the document must be a mapping');
    return value as Record<string, unknown>;
  } catch (error) {
    const line = (error as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
    throw new InputError('invalid_config', `config file '${file}' is not valid YAML: ${(error as Error).message}`, { file, line }, { cause: error });
  }
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const { env: name, path } of fileOnlyKeys) {
    if (env[name] !== undefined) throw new InputError('invalid_config', `${name} is not read: ${path} is set in the config file only`, { field: path });
  }
  const out: Record<string, unknown> = {};
  for (const { env: name, path, type } of envMapping) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'number') {
      value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    } else if (type === 'boolean') {
      const lowered = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lowered)) value = true;
      else if (['0', 'false', 'no', 'off'].includes(lowered)) value = false;
    }
    setPath(out, path, value);
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key], value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
