import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { AGENT_NAME, BUNDLE_PATTERN, DEFAULT_BUNDLE_SET, SET_PATTERN } from './agent-identity.js';

/** One agent token as the tokens file lists it: never the token itself, only its SHA-256. */
export interface AgentTokenEntry {
  name: string;
  /** Lower-case hex SHA-256 of the token's UTF-8 bytes. */
  sha256: string;
  bundles: string[];
  environments: string[];
}

/** Tokens one file may list. */
export const MAX_AGENT_TOKENS = 100_000;

const entrySchema = z.strictObject({
  name: z.string().regex(AGENT_NAME, 'letters, digits and . _ : @ / -, at most 128'),
  sha256: z.string().regex(/^[0-9A-Fa-f]{64}$/, 'the SHA-256 of the token as 64 hex digits (printf %s "$TOKEN" | sha256sum)'),
  bundles: z.array(z.string().regex(BUNDLE_PATTERN, "a bundle name, 'prefix/*' or '*'")).min(1).max(1000),
  environments: z.array(z.string().regex(SET_PATTERN, "an environment name, 'default' (the tracked branch's bundles) or '*'")).min(1).max(64).optional(),
});

const fileSchema = z.strictObject({ tokens: z.array(z.unknown()).max(MAX_AGENT_TOKENS) });

/**
 * Reads an agent tokens file (YAML, or JSON, which is YAML):
 *
 * ```yaml
 * tokens:
 *   - name: payments-eu-1
 *     sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *     bundles: [rbac, datasets]
 *     environments: [default, prod]   # optional; default: [default]
 * ```
 *
 * Throws `InputError` `invalid_agent_tokens` naming the file, the entry (`tokens[2].sha256`) and its
 * line: a syntax error, an unknown key, a bad hash, a name or hash listed twice.
 */
export function parseAgentTokenFile(text: string, file: string): AgentTokenEntry[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.2', uniqueKeys: true, lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    const at = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
    throw invalid(file, `is not valid YAML or JSON: ${error.message.split('\n')[0]}`, 'tokens', at.line, at.col);
  }
  const where = (path: ReadonlyArray<string | number>): { line?: number; column?: number } => positionOf(doc, lineCounter, path);
  const parsed = fileSchema.safeParse(doc.toJS({ maxAliasCount: 0 }) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = where(issue.path as Array<string | number>);
    throw invalid(file, `${entryName(issue.path as Array<string | number>) || 'the file'}: ${issue.path.length === 0 ? "must be a mapping with 'tokens: [...]'" : issue.message}`, entryName(issue.path as Array<string | number>) || 'tokens', at.line, at.column);
  }
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  return parsed.data.tokens.map((raw, index) => {
    const entry = entrySchema.safeParse(raw);
    if (!entry.success) {
      const issue = entry.error.issues[0]!;
      const path = ['tokens', index, ...(issue.path as Array<string | number>)];
      const at = where(path);
      throw invalid(file, `${entryName(path)}: ${issue.message}`, entryName(path), at.line, at.column);
    }
    const { name, bundles, environments } = entry.data;
    const sha256 = entry.data.sha256.toLowerCase();
    const sameName = names.get(name);
    if (sameName !== undefined) throw invalid(file, `tokens[${index}].name: '${name}' is listed twice (tokens[${sameName}]); names identify agents in the fleet view`, `tokens[${index}].name`, where(['tokens', index, 'name']).line);
    const sameHash = hashes.get(sha256);
    if (sameHash !== undefined) throw invalid(file, `tokens[${index}].sha256: the same token as tokens[${sameHash}]; one token, one name`, `tokens[${index}].sha256`, where(['tokens', index, 'sha256']).line);
    names.set(name, index);
    hashes.set(sha256, index);
    return { name, sha256, bundles, environments: environments ?? [DEFAULT_BUNDLE_SET] };
  });
}

function entryName(path: ReadonlyArray<string | number>): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${part}`)).join('');
}

/** The 1-based line and column of the node at `path`, or of its closest parent that exists. */
function positionOf(doc: Document, lineCounter: LineCounter, path: ReadonlyArray<string | number>): { line?: number; column?: number } {
  for (let length = path.length; length >= 0; length--) {
    const node = length === 0 ? doc.contents : doc.getIn(path.slice(0, length), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) {
      const { line, col } = lineCounter.linePos(range[0]);
      return { line, column: col };
    }
  }
  return {};
}

function invalid(file: string, message: string, entry: string, line?: number, column?: number): InputError {
  return new InputError('invalid_agent_tokens', `agent tokens file '${file}': ${message}`, {
    field: 'agents.tokensFile', file, entry, ...(line === undefined ? {} : { line }), ...(column === undefined ? {} : { column }),
  });
}
