import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { BundleBuilder } from '../../src/domain/bundles/bundle-builder.js';
import { BundleSigner } from '../../src/domain/bundles/bundle-signer.js';
import { BundleVerifier } from '../../src/domain/bundles/bundle-verifier.js';
import { generateSigningKey, verificationKeyFor } from '../../src/domain/bundles/signing-key.js';
import { CandidateCheck, CandidateCheckUnavailable } from '../../src/domain/candidates/candidate-check.js';
import type { TreeEntry } from '../../src/domain/store/policy-store.js';
import { SpecCompiler } from '../../src/domain/specs/spec-compiler.js';
import { writeRestrictedCapabilities } from '../../src/opa/capabilities.js';
import { OpaPolicyGate } from '../../src/opa/opa-policy-gate.js';
import { silentLogger } from '../helpers/git-repo.js';
import { opaStandIn, resetCalls, type OpaStandInMode } from '../helpers/opa-stand-in.js';
import { realOpaCli } from '../helpers/opa-path.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

/**
 * The one candidate check over the real gate (behind a stand-in `opa` for faults) and the real builder:
 * compile steps, OPA beside the builder's check, ranked findings; nothing signed or packed.
 */
async function checkBehind(mode: OpaStandInMode) {
  const dir = tempDirForTest();
  const standIn = opaStandIn(mode);
  const logger = silentLogger();
  const opa = await realOpaCli(logger, { timeoutMs: 3000 }, standIn.path);
  const gate = OpaPolicyGate.create({ opa, capabilitiesPath: await writeRestrictedCapabilities(opa, dir), logger, workDir: dir });
  const key = generateSigningKey('k', 'RS256').key;
  const signed: string[] = [];
  const signer = BundleSigner.create({ key });
  const builder = BundleBuilder.create({
    signerFor: (id) => (id === key.keyId ? ({ signaturesFile: (files) => (signed.push(id), signer.signaturesFile(files)) } as BundleSigner) : undefined),
    defaultKeyId: key.keyId,
    verifier: BundleVerifier.create([verificationKeyFor(key)]),
    limits: { maxFiles: 1000, maxFileBytes: 1 << 20, maxBundleBytes: 8 << 20 },
    logger,
  });
  const check = CandidateCheck.create({ gate, builder, compilers: [SpecCompiler.create({ maxSpecBytes: 1 << 20 })] });
  resetCalls(standIn);
  return { standIn, check, builder, signed };
}

function tree(files: Record<string, string>) {
  const blobs = new Map<string, Buffer>();
  const entries = Object.entries(files).map(([path, text]): TreeEntry => {
    const content = Buffer.from(text);
    const blobId = createHash('sha1').update(content).digest('hex');
    blobs.set(blobId, content);
    return { path, blobId, size: content.length, kind: 'file' };
  });
  return { entries, readBlobs: async (ids: readonly string[]) => new Map(ids.map((id) => [id, blobs.get(id)!])), priority: 'write' as const };
}

const GOOD = {
  'regent.yaml': 'bundles:\n  app:\n    roots: [app]\n',
  'app/access.policy.yaml': 'actions:\n  - read: ["s3:GetObject"]\nroles:\n  - name: R\n    permissions:\n      - { action: read, resource: "b/*" }\n',
  'app/access_test.rego': 'package app.access_test\n\ntest_r_reads if data.app.access.allow with input as {"subject": {"roles": ["R"]}, "action": "read", "resource": "b/x"}\n',
};

describe('the candidate check', () => {
  test('a good tree passes: the spec compiled, OPA ran its tests, bundles checked and not signed; package() then signs what passed', async () => {
    const { check, builder, signed, standIn } = await checkBehind('real');
    const report = await check.check(tree(GOOD));
    expect(report).toMatchObject({ ok: true, problems: [], tests: { passed: 1, failed: 0 }, bundles: ['app'], generated: [{ path: 'app/access.policy.rego', source: 'app/access.policy.yaml' }] });
    expect(report.checked!.bundles[0]!.files.map((file) => file.bundlePath)).toEqual(['app/access.policy.rego']);
    expect(signed).toEqual([]);
    expect(standIn.calls()).toEqual(['test']);
    const [bundle] = await builder.package('a'.repeat(40), report.checked!);
    expect(bundle!.manifest).toMatchObject({ revision: 'a'.repeat(40), roots: ['app'] });
    expect(signed).toEqual(['k']);
  });

  test.each<OpaStandInMode>(['silent', 'garbage-exit-0', 'crash'])('when OPA gives no verdict (%s), a good tree is no verdict at all, never a pass', async (mode) => {
    const { check } = await checkBehind(mode);
    const failure = await check.check(tree(GOOD)).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(CandidateCheckUnavailable);
    expect((failure as CandidateCheckUnavailable).step).toBe('gate');
  });

  test('a spec that does not compile is a verdict by itself: OPA is not asked, even when it would give no verdict', async () => {
    const { check, standIn } = await checkBehind('silent');
    const report = await check.check(tree({ ...GOOD, 'app/access.policy.yaml': 'actions: []\nroles:\n  - name: R\n    permissions: [{action: read, resource: "b"}]\n' }));
    expect(report).toMatchObject({ ok: false, refusal: { step: 'compile' }, problems: [{ code: 'unknown_action', file: 'app/access.policy.yaml', line: 4, column: 28 }] });
    expect(report.refusal!.error).toMatchObject({ code: 'unknown_action', details: { file: 'app/access.policy.yaml', line: 4, column: 28 } });
    expect(standIn.calls()).toEqual([]);
  });

  test('a builder refusal is a verdict by itself when OPA gives none, and leads OPA\'s findings when it gives some', async () => {
    const bad = { ...GOOD, 'app/data.json': '{"a": ' };
    const silent = await checkBehind('silent');
    expect(await silent.check.check(tree(bad))).toMatchObject({ ok: false, refusal: { step: 'build' }, problems: [{ code: 'invalid_json', file: 'app/data.json' }] });
    const real = await checkBehind('real');
    const report = await real.check.check(tree(bad));
    expect(report.refusal!.step).toBe('build');
    expect(report.problems[0]).toMatchObject({ code: 'invalid_json', file: 'app/data.json' });
    expect(report.problems.length).toBeGreaterThan(1);
  });

  test('a builder refusal about a compiled module names the spec: its package, outside the bundle\'s roots', async () => {
    const { check } = await checkBehind('real');
    const report = await check.check(tree({ ...GOOD, 'app/access.policy.yaml': `package: app.other\n${GOOD['app/access.policy.yaml']}`, 'regent.yaml': 'bundles:\n  app:\n    roots: [app/access]\n    paths: [app]\n', 'app/access_test.rego': 'package app.access\n\ntest_x if true\n' }));
    expect(report).toMatchObject({ ok: false, refusal: { step: 'build' }, problems: [{ code: 'package_outside_roots', file: 'app/access.policy.yaml', line: 1, column: 10 }] });
    expect(report.refusal!.error!.details).toMatchObject({ file: 'app/access.policy.yaml', line: 1, column: 10 });
  });
});
