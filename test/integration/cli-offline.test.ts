import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { writeTarball } from '../../src/domain/bundles/tarball-writer.js';
import { adminClient } from '../helpers/admin-client.js';
import { opaPath } from '../helpers/opa-path.js';
import { describeResult, runRegentCli, type CliResult } from '../helpers/regent-cli.js';
import { EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/** `regent` commands that need no running Regent: keygen, build, verify, audit verify --data-dir, token. */

function ok(result: CliResult): CliResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}

/** Real OPA loading a bundle file the way an agent verifies it (`opa build` verifies, then re-signs). */
function opaVerifies(bundle: string, publicKey: string, privateKey: string, keyId: string): { ok: boolean; output: string } {
  const out = join(tempDirForTest('regent-opa-out-'), 'out.tar.gz');
  const result = spawnSync(opaPath(), ['build', '-b', bundle, '--verification-key', publicKey, '--verification-key-id', keyId, '--signing-key', privateKey, '-o', out], { encoding: 'utf8', timeout: 30_000 });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

function repack(files: Array<{ path: string; content: Buffer }>): Promise<Buffer> {
  return writeTarball(files);
}

describe('regent keygen', () => {
  test('writes a key pair named by its key id, both files mode 0600, and never replaces them', async () => {
    const dir = join(tempDirForTest('regent-keygen-'), 'keys');
    const first = ok(await runRegentCli(['keygen', '--key-id', 'ci', '-o', dir]));
    expect(first.stdout).toContain(`wrote ${join(dir, 'ci.pem')}`);
    for (const file of ['ci.pem', 'ci.pub.pem']) expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, 'ci.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(join(dir, 'ci.pub.pem'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const before = readFileSync(join(dir, 'ci.pem'));
    const again = await runRegentCli(['keygen', '--key-id', 'ci', '-o', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exist.*never replaces a key/);
    expect(readFileSync(join(dir, 'ci.pem'))).toEqual(before);
    const ec = JSON.parse(ok(await runRegentCli(['keygen', '--key-id', 'edge', '--signing-alg', 'ES256', '-o', dir, '--json'])).stdout) as Record<string, string>;
    expect(ec).toMatchObject({ keyId: 'edge', algorithm: 'ES256', privateKey: join(dir, 'edge.pem'), publicKey: join(dir, 'edge.pub.pem') });
  });
});

describe('regent build', () => {
  test('builds signed bundles from a directory with real OPA and the builder; verify and real OPA accept them', async () => {
    const dir = tempDirForTest('regent-build-');
    ok(await runRegentCli(['keygen', '--key-id', 'ci', '-o', join(dir, 'keys')]));
    const built = ok(await runRegentCli(['build', EXAMPLE_POLICIES, '-o', join(dir, 'out'), '--signing-key', join(dir, 'keys', 'ci.pem'), '--key-id', 'ci']));
    expect(built.stdout).toMatch(/^built 4 bundle\(s\) of .*policies-repo at revision [0-9a-f]{40} \(\d+ tests passed\), signed with key 'ci' \(RS256\):/);
    expect(built.stderr).toMatch(/regent: checking \d+ files with OPA \(check, tests\): done in \d+ ms/);
    expect(built.stderr).toMatch(/regent: building and signing the bundles: done in \d+ ms/);
    for (const bundle of ['rbac', 'datasets']) {
      const file = join(dir, 'out', `${bundle}.tar.gz`);
      expect(ok(await runRegentCli(['verify', file, '--key', join(dir, 'keys', 'ci.pub.pem')])).stdout).toMatch(new RegExp(`^ok: .*signature by key 'ci' \\(RS256\\) .* roots \\[${bundle}\\]`));
      const opa = opaVerifies(file, join(dir, 'keys', 'ci.pub.pem'), join(dir, 'keys', 'ci.pem'), 'ci');
      expect(opa.ok, opa.output).toBe(true);
    }
    // The same directory gives the same bytes.
    const again = JSON.parse(ok(await runRegentCli(['build', EXAMPLE_POLICIES, '-o', join(dir, 'again'), '--signing-key', join(dir, 'keys', 'ci.pem'), '--key-id', 'ci', '--json', '--quiet'])).stdout) as { bundles: Array<{ name: string; file: string }> };
    for (const bundle of again.bundles) expect(readFileSync(bundle.file)).toEqual(readFileSync(join(dir, 'out', `${bundle.name}.tar.gz`)));
  });

  test('refuses policies that fail the gate: the findings on stdout, exit 1, nothing written', async () => {
    const dir = tempDirForTest('regent-build-bad-');
    ok(await runRegentCli(['keygen', '-o', join(dir, 'keys')]));
    const policies = join(dir, 'policies');
    cpSync(EXAMPLE_POLICIES, policies, { recursive: true });
    writeFileSync(join(policies, 'rbac', 'extra_test.rego'), 'package rbac\n\ntest_never if allow with input as {}\n');
    writeFileSync(join(policies, 'datasets', 'broken.rego'), 'package datasets\n\nallow if {\n');
    const result = await runRegentCli(['build', policies, '-o', join(dir, 'out'), '--signing-key', join(dir, 'keys', 'regent.pem')]);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stdout).toMatch(/datasets\/broken\.rego:\d+(:\d+)? rego_parse_error: /);
    expect(result.stderr).toMatch(/fails the gate \(\d+ problem\(s\), \d+ failed tests\): no bundle written/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    const noKey = await runRegentCli(['build', policies, '-o', join(dir, 'out')]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('[signing_key_missing]');
  });

  test('builds a revision of a store byte for byte as the running Regent serves it', async () => {
    const regent = await startTestRegent();
    const head = (await regent.store.head())!;
    const out = join(tempDirForTest('regent-build-rev-'), 'out');
    const keyFile = join(regent.dataDir, 'keys', 'regent.pem');
    const result = JSON.parse(ok(await runRegentCli(['build', head, '--store', join(regent.dataDir, 'store.git'), '-o', out, '--signing-key', keyFile, '--json'])).stdout) as { revision: string; bundles: Array<{ name: string; file: string; etag: string }> };
    expect(result.revision).toBe(head);
    expect(result.bundles.map((bundle) => bundle.name).sort()).toEqual([...regent.catalog.published!.bundles.keys()].sort());
    for (const bundle of result.bundles) {
      const served = await fetch(`${regent.url}/bundles/${bundle.name}`);
      expect(served.headers.get('etag')).toBe(bundle.etag);
      expect(Buffer.from(await served.arrayBuffer())).toEqual(readFileSync(bundle.file));
    }
    const unknown = await runRegentCli(['build', 'no-such-tag', '--store', join(regent.dataDir, 'store.git'), '-o', out, '--signing-key', keyFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[revision_not_found]');
  });
});

describe('regent verify', () => {
  test('accepts a bundle Regent serves and refuses one whose module was edited after signing, as real OPA does', async () => {
    const regent = await startTestRegent();
    const dir = tempDirForTest('regent-verify-');
    const publicKey = join(regent.dataDir, 'keys', 'regent.pub.pem');
    const privateKey = join(regent.dataDir, 'keys', 'regent.pem');
    const good = join(dir, 'rbac.tar.gz');
    writeFileSync(good, Buffer.from(await (await fetch(`${regent.url}/bundles/rbac`)).arrayBuffer()));
    const accepted = ok(await runRegentCli(['verify', good, '--key', publicKey]));
    expect(accepted.stdout).toMatch(/^ok: .*signature by key 'regent' \(RS256\) over 3 files holds; revision [0-9a-f]{40}, roots \[rbac\], 1 modules, 1 data files\n$/);
    expect(opaVerifies(good, publicKey, privateKey, 'regent').ok).toBe(true);

    // A module edited after signing, re-tarred with the same names.
    const files = await readTarball(readFileSync(good));
    const tampered = join(dir, 'tampered.tar.gz');
    writeFileSync(tampered, await repack(files.map((file) => (file.path.endsWith('.rego') ? { ...file, content: Buffer.concat([file.content, Buffer.from('# tampered\n')]) } : file))));
    const refused = await runRegentCli(['verify', tampered, '--key', publicKey]);
    expect(refused.code, describeResult(refused)).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^regent: refused: .*tampered\.tar\.gz: rbac\/policy\.rego: digest mismatch \(want: [0-9a-f]{64}, got: [0-9a-f]{64}\) \[digest_mismatch\]\n$/);
    const opa = opaVerifies(tampered, publicKey, privateKey, 'regent');
    expect(opa.ok).toBe(false);
    expect(opa.output).toMatch(/digest mismatch/);

    // Re-tarred the way a person would (`tar -C dir .`): names no longer match the signature; OPA refuses too.
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    for (const file of files) {
      mkdirSync(join(unpacked, file.path, '..'), { recursive: true });
      writeFileSync(join(unpacked, file.path), file.content);
    }
    const retarred = join(dir, 'retarred.tar.gz');
    expect(spawnSync('tar', ['-czf', retarred, '-C', unpacked, '.']).status).toBe(0);
    expect((await runRegentCli(['verify', retarred, '--key', publicKey])).code).toBe(1);
    expect(opaVerifies(retarred, publicKey, privateKey, 'regent').ok).toBe(false);

    // The wrong key, or a key id the signature does not name.
    const otherKeys = join(dir, 'other');
    ok(await runRegentCli(['keygen', '-o', otherKeys]));
    const wrongKey = await runRegentCli(['verify', good, '--key', join(otherKeys, 'regent.pub.pem'), '--json']);
    expect(wrongKey.code).toBe(1);
    expect(JSON.parse(wrongKey.stdout)).toMatchObject({ ok: false, code: 'signature_invalid' });
  });
});

describe('regent audit verify (offline)', () => {
  test('checks the hash chain of a data directory without a running Regent, and names the line an edit broke', async () => {
    const regent = await startTestRegent();
    const admin = adminClient(regent, { sub: 'alice', role: 'admin' });
    const head = (await regent.store.head())!;
    expect((await admin.put('/api/policies/rbac/extra.rego', { content: 'package rbac.extra\n\nx := 1\n', message: 'Add extra', baseRevision: head })).status).toBe(201);
    await regent.close();
    const good = ok(await runRegentCli(['audit', 'verify', '--data-dir', regent.dataDir]));
    expect(good.stdout).toMatch(/^chain ok: \d+ records \(seq 1 to \d+, .+\) in .*audit\.jsonl\n$/);
    const file = join(regent.dataDir, 'audit', 'audit.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"subject":"', '"subject":"mallory-');
    writeFileSync(file, lines.join('\n'));
    const broken = await runRegentCli(['audit', 'verify', '--file', file, '--json']);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false, broken: { line: 3, reason: 'prev is not the SHA-256 of the line before' } });
    expect(broken.stderr).toContain('hash chain is broken at line 3');
  });
});

describe('regent token', () => {
  test('without --dev it signs with the data directory\'s development secret when one exists, and only then', async () => {
    const dataDir = tempDirForTest('regent-token-');
    const none = await runRegentCli(['token', '--sub', 'a', '--role', 'admin'], { env: { REGENT_DATA_DIR: dataDir } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('[auth_key_missing]');
    ok(await runRegentCli(['token', '--dev', '--sub', 'a', '--role', 'admin'], { env: { REGENT_DATA_DIR: dataDir } }));
    const minted = ok(await runRegentCli(['token', '--sub', 'audrey', '--role', 'auditor'], { env: { REGENT_DATA_DIR: dataDir } }));
    expect(minted.stdout).toMatch(/^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const regent = await startTestRegent({ dataDir });
    const whoami = await fetch(`${regent.url}/api/whoami`, { headers: { Authorization: `Bearer ${minted.stdout.trim()}` } });
    expect(await whoami.json()).toMatchObject({ principal: { subject: 'audrey', role: 'auditor' } });
  });
});
