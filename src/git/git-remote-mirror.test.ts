import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { rename } from 'node:fs/promises';
import { describe, expect, onTestFinished, test } from 'vitest';
import { ConflictError, NotAllowedError, PreconditionFailedError, UnavailableError } from '../domain/errors.js';
import { git, openTestStore, tempDir } from '../../test/helpers/git-repo.js';
import { gitRemote } from '../../test/helpers/git-remote.js';
import { REF_BUSY_ATTEMPTS, type RemoteOptions } from './git-remote-mirror.js';
import { runGit } from './git-process.js';
import { assertRemoteUrl, isLoopbackUrl, redactUrl, remoteEnvironment } from './remote-credentials.js';

const author = { name: 'Ada Admin', email: 'ada@example.test' };
const put = (path: string, content: string) => ({ op: 'put' as const, path, content: Buffer.from(content) });

function remoteOptions(url: string, extra: Partial<RemoteOptions> = {}): RemoteOptions {
  return { url, credentials: { kind: 'none' }, fetchTimeoutMs: 10_000, pushTimeoutMs: 10_000, ...extra };
}

async function mirroredStore(files: Record<string, string> = { 'a/policy.rego': 'package a\n' }) {
  const remote = await gitRemote(files);
  const { store, dir } = await openTestStore({ remote: remoteOptions(remote.dir) });
  const first = await store.mirror!.sync();
  return { remote, store, dir, first };
}

describe('GitRemoteMirror over a real bare remote', () => {
  test('the first sync clones the remote branch into an empty store, later syncs fast-forward to merges', async () => {
    const { remote, store, dir, first } = await mirroredStore();
    expect(first).toMatchObject({ outcome: 'fast_forwarded', remoteTip: await remote.tip(), previousHead: undefined });
    expect(await store.head()).toBe(await remote.tip());
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'up_to_date' });

    const merged = await remote.merge({ 'a/policy.rego': 'package a\n\nallow := true\n' });
    const heads: Array<string | undefined> = [];
    store.onHeadChange((head) => heads.push(head));
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'fast_forwarded', remoteTip: merged, head: merged });
    expect(await store.head()).toBe(merged);
    expect(heads).toContain(merged);
    expect((await git(['rev-parse', 'refs/regent/remote/main'], { gitDir: dir })).trim()).toBe(merged);
  });

  test('a force-pushed remote is reported as diverged and head stays; accepting it archives the old head', async () => {
    const { remote, store, dir } = await mirroredStore();
    const kept = await remote.merge({ 'a/b.rego': 'package a.b\n' });
    await store.mirror!.sync();
    expect(await store.head()).toBe(kept);

    const rewritten = await remote.forcePush({ 'a/c.rego': 'package a.c\n' });
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'diverged', remoteTip: rewritten, head: kept });
    expect(await store.head()).toBe(kept);

    const wrongTip = kept;
    await expect(store.mirror!.accept(wrongTip)).rejects.toSatisfy((error) => error instanceof PreconditionFailedError && error.code === 'remote_tip_changed' && error.details.remoteTip === rewritten);
    expect(await store.head()).toBe(kept);

    const accepted = await store.mirror!.accept(rewritten);
    expect(accepted).toMatchObject({ previousHead: kept, head: rewritten });
    expect(accepted.archiveRef).toMatch(new RegExp(`^refs/regent/archive/\\d{8}T\\d{6}Z-${kept}$`));
    expect(await store.head()).toBe(rewritten);
    expect((await git(['rev-parse', accepted.archiveRef!], { gitDir: dir })).trim()).toBe(kept);
  });

  test('a remote that loses its branch is missing_ref, and head stays', async () => {
    const { remote, store } = await mirroredStore();
    const head = await store.head();
    await remote.git(['update-ref', '-d', 'refs/heads/main']);
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'missing_ref', head });
    expect(await store.head()).toBe(head);
  });

  test('a commit is pushed to the remote before the local branch moves', async () => {
    const { remote, store } = await mirroredStore();
    const base = (await store.head())!;
    const result = await store.commit({ changes: [put('a/new.rego', 'package a.new\n')], message: 'Add a.new', author, expectedHead: base });
    expect(await remote.tip()).toBe(result.revision);
    expect(await store.head()).toBe(result.revision);
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'up_to_date' });
  });

  test('a push the remote refuses (it moved) leaves nothing on either branch, fetches, and reports remote_moved with the new head', async () => {
    const { remote, store } = await mirroredStore();
    const base = (await store.head())!;
    const merged = await remote.merge({ 'a/other.rego': 'package a.other\n' });
    const error = await store.commit({ changes: [put('a/new.rego', 'package a.new\n')], message: 'Add a.new', author, expectedHead: base }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).code).toBe('remote_moved');
    expect((error as ConflictError).details.head).toBe(merged);
    expect(await remote.tip()).toBe(merged);
    expect(await store.head()).toBe(merged);
    // The same change on the new head goes through.
    const retried = await store.commit({ changes: [put('a/new.rego', 'package a.new\n')], message: 'Add a.new', author, expectedHead: merged });
    expect(await remote.tip()).toBe(retried.revision);
  });

  test('a commit on a force-pushed remote is refused as remote_diverged and head stays', async () => {
    const { remote, store } = await mirroredStore();
    await remote.merge({ 'a/b.rego': 'package a.b\n' });
    await store.mirror!.sync();
    const head = (await store.head())!;
    const rewritten = await remote.forcePush({ 'a/c.rego': 'package a.c\n' });
    const error = await store.commit({ changes: [put('a/new.rego', 'package a.new\n')], message: 'Add a.new', author, expectedHead: head }).catch((e: unknown) => e);
    expect((error as ConflictError).code).toBe('remote_diverged');
    expect(await store.head()).toBe(head);
    expect(await remote.tip()).toBe(rewritten);
  });

  test('a remote rewound behind Regent\'s back is not brought back by a write: the push is leased on head and refused', async () => {
    const { remote, store } = await mirroredStore();
    const removed = await remote.merge({ 'a/policy.rego': 'package a\n\nleaked := "secret"\n' });
    await store.mirror!.sync();
    expect(await store.head()).toBe(removed);
    // The host owner drops the bad commit: the remote is rewound to its parent.
    const parent = (await remote.git(['rev-parse', `${removed}^`])).trim();
    await remote.git(['update-ref', 'refs/heads/main', parent]);

    const error = await store.commit({ changes: [put('b/policy.rego', 'package b\n')], message: 'unrelated', author, expectedHead: removed }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'remote_diverged' });
    expect(await remote.tip()).toBe(parent);
    expect(await store.head()).toBe(removed);
  });

  test('a push a server hook declines is remote_refused: the branch did not move, so no retry, and nothing moves', async () => {
    const { remote, store, first } = await mirroredStore();
    const hook = join(remote.dir, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "protected branch: open a pull request" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    await remote.git(['config', 'core.hooksPath', join(remote.dir, 'hooks')]);
    const error = await store.commit({ changes: [put('b/policy.rego', 'package b\n')], message: 'direct', author, expectedHead: first.remoteTip! }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotAllowedError);
    expect(error).toMatchObject({ code: 'remote_refused', details: { reason: 'pre-receive hook declined: protected branch: open a pull request' } });
    expect(await remote.tip()).toBe(first.remoteTip);
    expect(await store.head()).toBe(first.remoteTip);
  });

  test('a race lost inside the host ("[remote rejected] (failed to update ref)") is remote_moved, not remote_refused', async () => {
    const { remote, store, first } = await mirroredStore();
    // Another writer (another replica) lands between this push's ref advertisement and its ref update:
    // the hook moves main itself, so git's receive-pack fails to lock main at the leased value.
    const other = await remote.developer.commit({ 'c/policy.rego': 'package c\n' }, 'another replica');
    await remote.developer.git(['push', '--quiet', 'origin', 'HEAD:refs/heads/side']);
    const marker = join(remote.dir, 'raced');
    const hook = join(remote.dir, 'hooks', 'pre-receive');
    writeFileSync(hook, `#!/bin/sh\n[ -e '${marker}' ] && exit 0\ntouch '${marker}'\nunset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\ngit update-ref refs/heads/main ${other}\n`);
    chmodSync(hook, 0o755);
    await remote.git(['config', 'core.hooksPath', join(remote.dir, 'hooks')]);

    const error = await store.commit({ changes: [put('b/policy.rego', 'package b\n')], message: 'mine', author, expectedHead: first.remoteTip! }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'remote_moved', details: { head: other } });
    expect(await remote.tip()).toBe(other);
    expect(await store.head()).toBe(other);
    const retried = await store.commit({ changes: [put('b/policy.rego', 'package b\n')], message: 'mine', author, expectedHead: other });
    expect(await remote.tip()).toBe(retried.revision);
    expect((await remote.git(['rev-list', '--parents', '-n', '1', retried.revision])).trim().split(' ')[1]).toBe(other);
  });

  test('a branch another push holds locked is pushed again, and the write lands once the lock is gone', async () => {
    const { remote, store, first } = await mirroredStore();
    const lock = join(remote.dir, 'refs', 'heads', 'main.lock');
    writeFileSync(lock, '');
    const released = setTimeout(() => rmSync(lock, { force: true }), 150);
    onTestFinished(() => clearTimeout(released));
    const result = await store.commit({ changes: [put('b/policy.rego', 'package b\n')], message: 'mine', author, expectedHead: first.remoteTip! });
    expect(existsSync(lock)).toBe(false);
    expect(await remote.tip()).toBe(result.revision);
    expect(await store.head()).toBe(result.revision);
  });

  test(`a branch that stays locked through ${REF_BUSY_ATTEMPTS} pushes is remote_unavailable, and nothing moves`, async () => {
    const { remote, store, first } = await mirroredStore();
    writeFileSync(join(remote.dir, 'refs', 'heads', 'main.lock'), '');
    const error = await store.commit({ changes: [put('b/policy.rego', 'package b\n')], message: 'mine', author, expectedHead: first.remoteTip! }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ code: 'remote_unavailable' });
    expect((error as Error).message).toContain('could not update main just now (failed to update ref');
    expect(await remote.tip()).toBe(first.remoteTip);
    expect(await store.head()).toBe(first.remoteTip);
  });

  test('an unreachable remote fails syncs and commits (remote_unavailable) without touching head, until it is back', async () => {
    const { remote, store } = await mirroredStore();
    const head = (await store.head())!;
    const moved = `${remote.dir}.away`;
    await rename(remote.dir, moved);
    await expect(store.mirror!.sync()).rejects.toThrow(/does not appear to be a git repository|not found|fatal/i);
    const error = await store.commit({ changes: [put('a/new.rego', 'package a.new\n')], message: 'Add a.new', author, expectedHead: head }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).code).toBe('remote_unavailable');
    expect(await store.head()).toBe(head);
    await rename(moved, remote.dir);
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'up_to_date' });
  });

  test('a remote that accepts the connection and never answers is abandoned at the fetch timeout', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    onTestFinished(() => {
      for (const socket of sockets) socket.destroy();
      server.close();
    });
    const { port } = server.address() as { port: number };
    const { store } = await openTestStore({ remote: remoteOptions(`ssh://git@127.0.0.1:${port}/policies.git`, { fetchTimeoutMs: 1500 }) });
    await expect(store.mirror!.sync()).rejects.toThrow();
    expect(await store.head()).toBeUndefined();
    expect(sockets.size).toBeGreaterThan(0);
  });
});

describe('remote credentials and URLs', () => {
  test('a token travels as an http.extraHeader in the environment, never in argv or the URL', () => {
    const env = remoteEnvironment({ kind: 'token', token: 's3cret-token', username: 'x-access-token' }, { connectTimeoutSeconds: 5, lowSpeedSeconds: 5 });
    expect(env).toMatchObject({ GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_KEY_1: 'http.followRedirects', GIT_CONFIG_VALUE_1: 'false', GIT_TERMINAL_PROMPT: '0' });
    expect(Buffer.from(env.GIT_CONFIG_VALUE_0!.replace('Authorization: Basic ', ''), 'base64').toString()).toBe('x-access-token:s3cret-token');
    expect(env.GIT_SSH_COMMAND).not.toContain('s3cret');
  });

  test('TLS files travel as command-scope config beside the token: the CA bundle with an empty CA directory, the client certificate and key', () => {
    const env = remoteEnvironment({ kind: 'token', token: 't', username: 'alice' }, {
      connectTimeoutSeconds: 5, lowSpeedSeconds: 5,
      tls: { caFile: '/etc/regent/gitea-ca.pem', emptyCaDir: '/data/remote-tls/empty-ca-dir', clientCertFile: '/etc/regent/client.pem', clientKeyFile: '/etc/regent/client-key.pem' },
    });
    const config = Array.from({ length: Number(env.GIT_CONFIG_COUNT) }, (_, i) => [env[`GIT_CONFIG_KEY_${i}`], env[`GIT_CONFIG_VALUE_${i}`]]);
    expect(config.slice(1)).toEqual([
      ['http.followRedirects', 'false'],
      ['http.sslCAInfo', '/etc/regent/gitea-ca.pem'],
      ['http.sslCAPath', '/data/remote-tls/empty-ca-dir'],
      ['http.sslCert', '/etc/regent/client.pem'],
      ['http.sslKey', '/etc/regent/client-key.pem'],
    ]);
    expect(remoteEnvironment({ kind: 'none' }, { connectTimeoutSeconds: 5, lowSpeedSeconds: 5 }).GIT_CONFIG_COUNT).toBeUndefined();
  });

  test('plain http is let through the store\'s protocol allow-list for the remote\'s commands only when allowed', () => {
    const allowed = remoteEnvironment({ kind: 'none' }, { connectTimeoutSeconds: 5, lowSpeedSeconds: 5, allowInsecureHttp: true });
    expect(allowed).toMatchObject({ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'protocol.http.allow', GIT_CONFIG_VALUE_0: 'always' });
    const https = remoteEnvironment({ kind: 'token', token: 't', username: 'u' }, { connectTimeoutSeconds: 5, lowSpeedSeconds: 5 });
    expect(Object.values(https)).not.toContain('protocol.http.allow');
  });

  test('real git sends the token header from that environment to an https remote, and puts nothing of it in argv or the URL', async () => {
    const testdata = join(import.meta.dirname, '..', 'domain', 'bundles', 'testdata');
    const seen: Array<{ url?: string; authorization?: string }> = [];
    const server = createHttpsServer({ cert: readFileSync(join(testdata, 'cert.pem')), key: readFileSync(join(testdata, 'cert-key.pem')) }, (req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as { port: number };
    const { dir } = await openTestStore();
    const env = { ...remoteEnvironment({ kind: 'token', token: 'tok-123', username: 'oauth2' }, { connectTimeoutSeconds: 5, lowSpeedSeconds: 5 }), GIT_SSL_NO_VERIFY: '1' };
    await expect(runGit({ dir, args: ['ls-remote', '--end-of-options', `https://127.0.0.1:${port}/acme/policies.git`], env, timeoutMs: 10_000 })).rejects.toThrow();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]!.url).toBe('/acme/policies.git/info/refs?service=git-upload-pack');
    expect(seen[0]!.authorization).toBe(`Basic ${Buffer.from('oauth2:tok-123').toString('base64')}`);
  });

  test('real git clones, fetches and pushes over an ssh:// URL with the configured key (a local ssh shim stands in for the network)', async () => {
    // Like git's own test-fake-ssh: record the options ssh got, then run the remote command here.
    const shimDir = tempDir('regent-fake-ssh-');
    const argsLog = join(shimDir, 'ssh-args.log');
    writeFileSync(join(shimDir, 'ssh'), [
      '#!/bin/sh',
      'while [ $# -gt 0 ]; do',
      '  case "$1" in',
      `    -o|-i|-p|-l) printf '%s %s\\n' "$1" "$2" >> '${argsLog}'; shift 2 ;;`,
      `    -*) printf '%s\\n' "$1" >> '${argsLog}'; shift ;;`,
      '    *) break ;;',
      '  esac',
      'done',
      `printf 'host %s\\ncommand %s\\n' "$1" "$2" >> '${argsLog}'`,
      'shift',
      'exec sh -c "$*"',
      '',
    ].join('\n'));
    chmodSync(join(shimDir, 'ssh'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${shimDir}:${path ?? ''}`;
    onTestFinished(() => {
      process.env.PATH = path;
    });

    const remote = await gitRemote({ 'a/policy.rego': 'package a\n' });
    const credentials = { kind: 'ssh' as const, keyFile: '/etc/regent/remote-ssh-key', knownHostsFile: '/etc/regent/known_hosts', strictHostKeyChecking: 'yes' as const };
    const { store } = await openTestStore({ remote: remoteOptions(`ssh://git@git.example.test${remote.dir}`, { credentials }) });
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'fast_forwarded', remoteTip: await remote.tip() });
    const merged = await remote.merge({ 'a/policy.rego': 'package a\n\nallow := true\n' });
    expect(await store.mirror!.sync()).toMatchObject({ outcome: 'fast_forwarded', head: merged });
    const committed = await store.commit({ changes: [put('a/extra.rego', 'package a.extra\n')], message: 'over ssh', author, expectedHead: merged });
    expect(await remote.tip()).toBe(committed.revision);

    const log = readFileSync(argsLog, 'utf8');
    for (const expected of ['-i /etc/regent/remote-ssh-key', '-o IdentitiesOnly=yes', '-o StrictHostKeyChecking=yes', '-o UserKnownHostsFile=/etc/regent/known_hosts', '-o BatchMode=yes', 'host git@git.example.test']) {
      expect(log).toContain(expected);
    }
    expect(log).toMatch(/command git-upload-pack '.*policies\.git'/);
    expect(log).toMatch(/command git-receive-pack '.*policies\.git'/);
  });

  test('an SSH key is named in GIT_SSH_COMMAND with IdentitiesOnly and host key checking', () => {
    const env = remoteEnvironment({ kind: 'ssh', keyFile: '/keys/id_ed25519', knownHostsFile: '/keys/known_hosts', strictHostKeyChecking: 'yes' }, { connectTimeoutSeconds: 5, lowSpeedSeconds: 5 });
    expect(env.GIT_SSH_COMMAND).toBe("ssh -o BatchMode=yes -o ConnectTimeout=5 -i '/keys/id_ed25519' -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile='/keys/known_hosts'");
    expect(() => remoteEnvironment({ kind: 'ssh', keyFile: "/keys/x' -oProxyCommand=evil", strictHostKeyChecking: 'yes' }, { connectTimeoutSeconds: 5, lowSpeedSeconds: 5 })).toThrow(/quotes/);
  });

  test.each([
    ['https://github.com/acme/policies.git', true],
    ['ssh://git@gitlab.example.com:2222/acme/policies.git', true],
    ['git@github.com:acme/policies.git', true],
    ['/srv/git/policies.git', true],
    ['file:///srv/git/policies.git', true],
    ['https://user:pass@github.com/acme/policies.git', false],
    ['https://token@github.com/acme/policies.git', false],
    ['http://github.com/acme/policies.git', false],
    ['https://gitlab.example.com/acme/policies.git?private_token=abc', false],
    ['https://gitlab.example.com/acme/policies.git#x', false],
    ['ext::sh -c touch% /tmp/pwned', false],
    ['--upload-pack=touch /tmp/pwned', false],
    ['-oProxyCommand=x', false],
  ])('remote URL %s accepted: %s', (url, ok) => {
    if (ok) expect(() => assertRemoteUrl(url)).not.toThrow();
    else expect(() => assertRemoteUrl(url)).toThrow(expect.objectContaining({ code: 'invalid_remote_url' }));
  });

  test('plain http passes only when allowed explicitly, and never with credentials in the URL', () => {
    expect(() => assertRemoteUrl('http://127.0.0.1:3000/acme/policies.git', 'remote.url', { allowInsecureHttp: true })).not.toThrow();
    expect(() => assertRemoteUrl('http://gitea.lan/acme/policies.git')).toThrow(/allowInsecureHttp/);
    expect(() => assertRemoteUrl('http://alice@gitea.lan/acme/policies.git', 'remote.url', { allowInsecureHttp: true })).toThrow(expect.objectContaining({ code: 'invalid_remote_url' }));
    expect(() => assertRemoteUrl('http://a:b@gitea.lan/acme/policies.git', 'remote.url', { allowInsecureHttp: true })).toThrow(expect.objectContaining({ code: 'invalid_remote_url' }));
  });

  test.each([
    ['http://localhost:3000/p.git', true],
    ['http://127.0.0.1/p.git', true],
    ['http://127.1/p.git', true],
    ['http://[::1]:8080/p.git', true],
    ['http://[0:0:0:0:0:0:0:1]/p.git', true],
    ['http://128.0.0.1/p.git', false],
    ['http://127.0.0.1.nip.io/p.git', false],
    ['http://localhost.example.com/p.git', false],
    ['http://10.0.0.5/p.git', false],
  ])('%s is loopback: %s', (url, loopback) => {
    expect(isLoopbackUrl(url)).toBe(loopback);
  });

  test('URLs are redacted before they are shown', () => {
    expect(redactUrl('https://user:pass@github.com/acme/p.git')).toBe('https://***@github.com/acme/p.git');
    expect(redactUrl('git@github.com:acme/p.git')).toBe('git@github.com:acme/p.git');
  });
});
