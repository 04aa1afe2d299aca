import { describe, expect, test } from 'vitest';
import { InputError } from '../errors.js';
import { parseAgentTokenFile } from './agent-token-file.js';

const HASH = 'a'.repeat(64);
const OTHER = 'B'.repeat(64);

function refusal(text: string): { message: string; details: Record<string, unknown> } {
  try {
    parseAgentTokenFile(text, 'tokens.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe('invalid_agent_tokens');
    return { message: (error as InputError).message, details: (error as InputError).details };
  }
  throw new Error('expected the file to be refused');
}

describe('parseAgentTokenFile', () => {
  test('reads YAML and JSON alike; hashes lower-cased; environments default to the tracked branch\'s set', () => {
    const yaml = `tokens:\n  - name: web-1\n    sha256: ${OTHER}\n    bundles: [rbac, "team-a/*"]\n    environments: [default, prod]\n  - name: batch\n    sha256: ${HASH}\n    bundles: ["*"]\n`;
    const json = JSON.stringify({ tokens: [{ name: 'web-1', sha256: OTHER, bundles: ['rbac', 'team-a/*'], environments: ['default', 'prod'] }, { name: 'batch', sha256: HASH, bundles: ['*'] }] });
    const expected = [
      { name: 'web-1', sha256: 'b'.repeat(64), bundles: ['rbac', 'team-a/*'], environments: ['default', 'prod'] },
      { name: 'batch', sha256: HASH, bundles: ['*'], environments: ['default'] },
    ];
    expect(parseAgentTokenFile(yaml, 'tokens.yaml')).toEqual(expected);
    expect(parseAgentTokenFile(json, 'tokens.json')).toEqual(expected);
    expect(parseAgentTokenFile('tokens: []\n', 'tokens.yaml')).toEqual([]);
  });

  test.each([
    ['a syntax error', 'tokens: [\n', { entry: 'tokens' }],
    ['not a mapping', '- a\n', { entry: 'tokens' }],
    ['an unknown top-level key', `tokenz: []\n`, {}],
    ['a short hash', `tokens:\n  - name: a\n    sha256: abc\n    bundles: [rbac]\n`, { entry: 'tokens[0].sha256', line: 3 }],
    ['no bundles', `tokens:\n  - name: a\n    sha256: ${HASH}\n    bundles: []\n`, { entry: 'tokens[0].bundles', line: 4 }],
    ['a bundle pattern with .. or a leading slash', `tokens:\n  - name: a\n    sha256: ${HASH}\n    bundles: [/rbac]\n`, { entry: 'tokens[0].bundles[0]', line: 4 }],
    ['an unknown key in an entry (the token itself, say)', `tokens:\n  - name: a\n    token: secret\n    sha256: ${HASH}\n    bundles: [rbac]\n`, { entry: 'tokens[0]', line: 2 }],
    ['a name with spaces', `tokens:\n  - name: a b\n    sha256: ${HASH}\n    bundles: [rbac]\n`, { entry: 'tokens[0].name', line: 2 }],
    ['a name listed twice', `tokens:\n  - {name: a, sha256: ${HASH}, bundles: [rbac]}\n  - {name: a, sha256: ${OTHER}, bundles: [rbac]}\n`, { entry: 'tokens[1].name', line: 3 }],
    ['a token listed twice', `tokens:\n  - {name: a, sha256: ${HASH}, bundles: [rbac]}\n  - {name: b, sha256: ${HASH.toUpperCase()}, bundles: [rbac]}\n`, { entry: 'tokens[1].sha256', line: 3 }],
  ])('refuses %s, naming the file, the entry and the line', (_name, text, where) => {
    const { message, details } = refusal(text);
    expect(message).toContain("agent tokens file 'tokens.yaml'");
    expect(details).toMatchObject({ field: 'agents.tokensFile', file: 'tokens.yaml', ...where });
  });
});
