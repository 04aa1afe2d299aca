import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { RegentConfig } from '../config/schema.js';
import { AgentJwtVerifier } from '../domain/agents/agent-jwt-verifier.js';
import { parseAgentTokenFile, type AgentTokenEntry } from '../domain/agents/agent-token-file.js';
import { InputError } from '../domain/errors.js';
import { keyProblem } from './load-admin-token-key.js';

/** A tokens file larger than this is refused (100,000 tokens take about 20 MiB of YAML). */
const MAX_TOKENS_FILE_BYTES = 32 * 1024 * 1024;
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * Reads the agent tokens file (`agents.tokensFile`): not group- or world-readable (a hash of a short
 * token can be brute-forced), YAML or JSON (see `parseAgentTokenFile`). Throws `InputError`
 * (`invalid_agent_tokens`, `insecure_key_file`) naming the file and, for a bad entry, its line.
 */
export function readAgentTokensFile(path: string): AgentTokenEntry[] {
  let mode: number;
  let size: number;
  try {
    ({ mode, size } = statSync(path));
  } catch (error) {
    throw new InputError('invalid_agent_tokens', `agent tokens file '${path}' cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { field: 'agents.tokensFile', file: path }, { cause: error });
  }
  if ((mode & 0o077) !== 0) {
    throw new InputError('insecure_key_file', `agent tokens file '${path}' is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`, { field: 'agents.tokensFile', file: path });
  }
  if (size > MAX_TOKENS_FILE_BYTES) throw new InputError('invalid_agent_tokens', `agent tokens file '${path}' is larger than ${MAX_TOKENS_FILE_BYTES} bytes`, { field: 'agents.tokensFile', file: path });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
  } catch (error) {
    throw new InputError('invalid_agent_tokens', `agent tokens file '${path}' cannot be read as UTF-8`, { field: 'agents.tokensFile', file: path }, { cause: error });
  }
  return parseAgentTokenFile(text, path);
}

/**
 * The verifier of agent JWTs (`agents.jwt`), with the identity provider's key: a PEM public key or
 * certificate (`publicKeyFile`) or a JWKS document (`jwksFile`), each key fitting every configured
 * algorithm. Throws `InputError` `invalid_agent_jwt_key` (or `invalid_config`) naming the key.
 */
export function loadAgentJwtVerifier(settings: NonNullable<RegentConfig['agents']['jwt']>): AgentJwtVerifier {
  if ((settings.publicKeyFile === undefined) === (settings.jwksFile === undefined)) {
    throw new InputError('invalid_config', "invalid configuration at 'agents.jwt': set publicKeyFile or jwksFile (one of them)", { field: settings.jwksFile === undefined ? 'agents.jwt.publicKeyFile' : 'agents.jwt.jwksFile' });
  }
  const keys = settings.publicKeyFile !== undefined ? new Map([['', pemPublicKey(settings.publicKeyFile)]]) : jwksKeys(settings.jwksFile!);
  for (const [kid, key] of keys) {
    for (const algorithm of settings.algorithms) {
      const problem = keyProblem(algorithm, key);
      if (problem) throw keyError(settings.publicKeyFile !== undefined ? 'agents.jwt.publicKeyFile' : 'agents.jwt.jwksFile', `the key${kid ? ` '${kid}'` : ''} does not fit ${algorithm}: ${problem}`);
    }
  }
  return AgentJwtVerifier.create({
    algorithms: settings.algorithms, keys, issuer: settings.issuer, audience: settings.audience,
    clockToleranceSeconds: settings.clockToleranceSeconds, maxTokenLifetimeSeconds: settings.maxTokenLifetimeSeconds,
    subjectClaim: settings.subjectClaim, bundlesClaim: settings.bundlesClaim, environmentsClaim: settings.environmentsClaim,
  });
}

function pemPublicKey(path: string): KeyObject {
  try {
    return createPublicKey({ key: readSmallFile(path, 'agents.jwt.publicKeyFile'), format: 'pem' });
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw keyError('agents.jwt.publicKeyFile', `'${path}' is not a readable PEM public key or certificate`, error);
  }
}

function jwksKeys(path: string): Map<string, KeyObject> {
  let document: unknown;
  try {
    document = JSON.parse(readSmallFile(path, 'agents.jwt.jwksFile').toString('utf8'));
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw keyError('agents.jwt.jwksFile', `'${path}' is not JSON`, error);
  }
  const list = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0 || list.length > 100) throw keyError('agents.jwt.jwksFile', `'${path}' is not a JWKS document: {"keys": [...]} with 1 to 100 keys`);
  const keys = new Map<string, KeyObject>();
  list.forEach((jwk: unknown, index) => {
    const kid = (jwk as { kid?: unknown } | null)?.kid;
    if (typeof kid !== 'string' && list.length > 1) throw keyError('agents.jwt.jwksFile', `keys[${index}] has no kid; a JWKS with several keys needs one per key`);
    const id = typeof kid === 'string' ? kid : '';
    if (keys.has(id)) throw keyError('agents.jwt.jwksFile', `kid '${id}' is listed twice`);
    if ((jwk as { d?: unknown }).d !== undefined) throw keyError('agents.jwt.jwksFile', `keys[${index}] is a private key; Regent needs the public keys only`);
    try {
      keys.set(id, createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
    } catch (error) {
      throw keyError('agents.jwt.jwksFile', `keys[${index}] is not a public key Node can read`, error);
    }
  });
  return keys;
}

function readSmallFile(path: string, field: string): Buffer {
  try {
    if (statSync(path).size > MAX_KEY_FILE_BYTES) throw new Error('larger than 1 MiB');
    return readFileSync(path);
  } catch (error) {
    throw keyError(field, `'${path}' cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
  }
}

function keyError(field: string, message: string, cause?: unknown): InputError {
  return new InputError('invalid_agent_jwt_key', `agent JWT key (${field}): ${message}`, { field }, cause === undefined ? undefined : { cause });
}
