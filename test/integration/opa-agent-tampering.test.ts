import { describe, expect, test } from 'vitest';
import { BundleSigner } from '../../src/domain/bundles/bundle-signer.js';
import { generateSigningKey } from '../../src/domain/bundles/signing-key.js';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { writeTarball } from '../../src/domain/bundles/tarball-writer.js';
import { startBundleProxy, type BundleRewrite } from '../helpers/bundle-proxy.js';
import { eventually, agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { startTestRegent } from '../helpers/start-regent.js';

async function repack(files: Array<{ path: string; content: Buffer }>): Promise<Buffer> {
  return writeTarball(files);
}

const tamperings: Array<[string, BundleRewrite]> = [
  ['a module changed by one rule', async (tarball, bundle) => {
    if (bundle !== 'rbac') return undefined;
    const files = await readTarball(tarball);
    return repack(files.map((file) => file.path === 'rbac/policy.rego'
      ? { path: file.path, content: Buffer.from(file.content.toString('utf8').replace('default allow := false', 'default allow := true')) }
      : file));
  }],
  ['the signature stripped', async (tarball, bundle) => {
    if (bundle !== 'rbac') return undefined;
    const files = await readTarball(tarball);
    return repack(files.filter((file) => file.path !== '.signatures.json'));
  }],
  ['re-signed with another key under the same key id', async (tarball, bundle) => {
    if (bundle !== 'rbac') return undefined;
    const files = await readTarball(tarball);
    const forger = BundleSigner.create({ key: generateSigningKey('regent', 'RS256').key });
    const payload = files.filter((file) => file.path !== '.signatures.json');
    const signatures = forger.signaturesFile(payload.map((file) => forger.fileInfo(file)));
    return repack([{ path: '.signatures.json', content: signatures }, ...payload]);
  }],
];

describe('a real OPA agent given a tampered bundle', () => {
  test.each(tamperings)('refuses a bundle with %s and keeps enforcing the previous revision', async (_name, rewrite) => {
    const regent = await startTestRegent();
    const proxy = await startBundleProxy(regent.url);
    const agent = await startOpaAgent({
      ...agentOptionsFor(regent, proxy.url),
      longPollSeconds: 5,
      minDelaySeconds: 1,
      maxDelaySeconds: 2,
    });
    await agent.waitUntilReady();
    const first = await regent.store.head();
    const outsider = { subject: 'nobody', action: 'delete', resource: { type: 'workflow', project: 'apollo' } };
    expect(await agent.query('rbac/allow', outsider)).toBe(false);

    proxy.setRewrite(rewrite);
    const head = first!;
    const entry = (await regent.store.listTree(head)).find((file) => file.path === 'rbac/data.json')!;
    const data = JSON.parse((await regent.store.readBlobs([entry.blobId])).get(entry.blobId)!.toString('utf8'));
    data.users.nobody = { active: true, superadmin: true };
    const second = await regent.store.commit({ changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(JSON.stringify(data)) }], message: 'make nobody a superadmin', author: { name: 'A', email: 'a@example.test' }, expectedHead: head });

    await eventually(async () => proxy.rewrites >= 2, 15_000, () => agent.logs().slice(-2000));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await agent.activeRevision('rbac')).toBe(first);
    expect(await agent.query('rbac/allow', outsider)).toBe(false);
    expect(agent.logs()).toMatch(/signature|digest|verification|not included/i);

    // Once the bundles arrive untouched again, the same agent takes the new revision: the refusal was
    // about the tampering, not an agent that could not update.
    proxy.setRewrite(undefined);
    await eventually(async () => (await agent.activeRevision('rbac')) === second.revision, 20_000, () => agent.logs().slice(-2000));
    expect(await agent.query('rbac/allow', outsider)).toBe(true);
  });
});
