import { describe, expect, test } from 'vitest';
import { buildDist, startRegentProcess } from '../helpers/regent-process.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

describe('logs never print a secret', () => {
  test('a remote URL with a token in its user info and its query string appears nowhere in the output of node dist/main.js, the fatal start-up line included', async () => {
    buildDist();
    const regent = startRegentProcess({
      dataDir: tempDirForTest(),
      env: { REGENT_REMOTE_URL: 'https://x-access-token:SEKRET123@example.invalid/repo.git?token=SEKRET456', REGENT_LOG_LEVEL: 'trace' },
    });
    expect(await regent.exited).toBe(1);
    const output = regent.output();
    expect(output).toContain('regent failed to start');
    expect(output).toContain('invalid_remote_url');
    // The operator still learns which remote it was (its scheme and host).
    expect(output).toContain('https://example.invalid/');
    expect(output).not.toContain('SEKRET123');
    expect(output).not.toContain('SEKRET456');
    expect(output).not.toContain('x-access-token:');
  }, 180_000);

  test.each([
    ['a token in the query string only', 'https://example.invalid/repo.git?private_token=SEKRET789'],
    ['a fragment', 'https://example.invalid/repo.git#SEKRET789'],
    ['a password with an @ in it', 'https://user:SEK@RET789@example.invalid/repo.git'],
    ['ssh with a password', 'ssh://git:SEKRET789@example.invalid/repo.git'],
    ['a base64 token with / and + in it', 'https://ci:SEK/RET789+x@example.invalid/repo.git'],
  ])('%s: nothing of the secret is printed', async (_name, url) => {
    buildDist();
    const regent = startRegentProcess({ dataDir: tempDirForTest(), env: { REGENT_REMOTE_URL: url } });
    expect(await regent.exited).toBe(1);
    const output = regent.output();
    expect(output).toContain('invalid_remote_url');
    expect(output).not.toMatch(/SEK/);
    expect(output).not.toMatch(/RET789/);
  }, 180_000);
});
