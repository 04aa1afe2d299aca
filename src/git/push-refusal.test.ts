import { describe, expect, test } from 'vitest';
import { refusedByRemote, remoteMessages } from './push-refusal.js';

const REFUSED = 'To https://gitea.example.test/acme/policies.git\n!\tabc:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone\n';

describe('push refusals', () => {
  test('a host refusal is remote_refused with git\'s reason and what the host printed', () => {
    const stderr = 'remote: \nremote: Gitea: Not allowed to push to protected branch main\nremote: \nerror: failed to push some refs\n';
    expect(() => refusedByRemote(REFUSED, stderr, 'the remote refused the push to main')).toThrow(expect.objectContaining({
      code: 'remote_refused',
      details: { reason: 'pre-receive hook declined: Gitea: Not allowed to push to protected branch main' },
    }));
  });

  test('a ref that moved is not a host refusal', () => {
    expect(() => refusedByRemote('!\tabc:refs/heads/main\t[rejected] (stale info)\n', '', 'x')).not.toThrow();
  });

  test('the host\'s lines are cleaned of escapes and control characters, credentials in URLs and repeats, and bounded', () => {
    const stderr = 'remote: \x1b[31mGH006: Protected branch update failed\x1b[0m\x07\nremote: see https://bot:secret@example.test/x\nremote: see https://bot:secret@example.test/x\nremote: ' + 'y'.repeat(1000) + '\n';
    const said = remoteMessages(stderr);
    expect(said.startsWith('GH006: Protected branch update failed; see https://***@example.test/x; yyy')).toBe(true);
    expect(said).not.toContain('secret');
    let reason = '';
    try {
      refusedByRemote(REFUSED, stderr, 'x');
    } catch (error) {
      reason = (error as { details: { reason: string } }).details.reason;
    }
    expect(reason.startsWith('pre-receive hook declined: GH006')).toBe(true);
    expect(reason.length).toBeLessThanOrEqual(300);
  });
});
