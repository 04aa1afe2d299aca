import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDirForTest } from './temp-dir.js';

export interface TestAgentToken {
  name: string;
  /** The token itself (defaults to a random one); only its SHA-256 goes into the file. */
  token?: string;
  bundles?: string[];
  environments?: string[];
}

/** A random agent token, as an operator would make one (`openssl rand -base64 32`, URL-safe). */
export function randomAgentToken(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The YAML of an agent tokens file for `tokens` (SHA-256 of each token, never the token). */
export function agentTokensYaml(tokens: ReadonlyArray<Required<Pick<TestAgentToken, 'name' | 'token'>> & TestAgentToken>): string {
  return stringify({ tokens: tokens.map((entry) => ({ name: entry.name, sha256: sha256Hex(entry.token), bundles: entry.bundles ?? ['*'], ...(entry.environments ? { environments: entry.environments } : {}) })) });
}

/**
 * Writes an agent tokens file (mode 0600) in a temp dir removed after the test. Returns its path and the
 * tokens by name (random unless given).
 */
export function writeAgentTokensFile(entries: readonly TestAgentToken[], dir = tempDirForTest('regent-agent-tokens-')): { path: string; tokens: Record<string, string> } {
  const tokens = entries.map((entry) => ({ ...entry, token: entry.token ?? randomAgentToken() }));
  const path = join(dir, 'agent-tokens.yaml');
  writeFileSync(path, agentTokensYaml(tokens), { mode: 0o600 });
  return { path, tokens: Object.fromEntries(tokens.map((entry) => [entry.name, entry.token])) };
}

/** A bearer token in a file (mode 0600), for OPA's `credentials.bearer.token_path`. */
export function writeTokenFile(token: string, dir = tempDirForTest('regent-agent-token-')): string {
  const path = join(dir, 'token');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return path;
}
