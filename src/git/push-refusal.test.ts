import { describe, expect, test } from 'vitest';
import { hostRefusal, refBusyError, remoteMessages } from './push-refusal.js';

/** The refusal's error thrown, as the mirror throws it for a host that declined and did not move. */
function refusedByRemote(porcelain: string, stderr: string, what: string): void {
  const refusal = hostRefusal(porcelain, stderr, what);
  if (refusal) throw refusal.error;
}

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

  test('a hook or a protected branch is not a ref lock; a ref git could not lock or update is', () => {
    expect(hostRefusal(REFUSED, 'remote: Gitea: Not allowed to push to protected branch main\n', 'x')?.refLock).toBe(false);
    const lockFile = "remote: error: cannot lock ref 'refs/heads/main': Unable to create '/srv/git/p.git/./refs/heads/main.lock': File exists.\n";
    const movedMeanwhile = "remote: error: cannot lock ref 'refs/heads/main': is at 217387bbdd86cced2994f6110b660791506cee1a but expected bec2402c325c8d00f145925e55016a03ca373fac\n";
    for (const stderr of [lockFile, movedMeanwhile, '']) {
      const refusal = hostRefusal('!\tabc:refs/heads/main\t[remote rejected] (failed to update ref)\n', stderr, 'x');
      expect(refusal?.refLock).toBe(true);
      expect(refusal?.error.code).toBe('remote_refused');
    }
    expect(hostRefusal('!\tabc:refs/heads/main\t[remote rejected] (failed to lock)\n', '', 'x')?.refLock).toBe(true);
  });

  test('a ref that stayed locked is remote_unavailable, naming the ref and git\'s reason', () => {
    const refusal = hostRefusal('!\tabc:refs/heads/main\t[remote rejected] (failed to update ref)\n', '', 'x')!;
    const error = refBusyError(refusal, 'main', 'https://git.example.test/acme/policies.git');
    expect(error).toMatchObject({ code: 'remote_unavailable', details: { remote: 'https://git.example.test/acme/policies.git' } });
    expect(error.message).toContain('could not update main just now (failed to update ref)');
  });

  test('a push that was not refused by the host gives no refusal', () => {
    expect(hostRefusal('To x\n=\tabc:refs/heads/main\t[up to date]\nDone\n', '', 'x')).toBeUndefined();
    expect(hostRefusal('!\tabc:refs/heads/main\t[rejected] (stale info)\n', '', 'x')).toBeUndefined();
  });
});
