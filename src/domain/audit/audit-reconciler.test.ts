import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { openTestStore, silentLogger } from '../../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../../test/helpers/temp-dir.js';
import { FileAuditLog } from '../../storage/file-audit-log.js';
import type { FileChange } from '../store/policy-store.js';
import { reconcileAuditWithHistory } from './audit-reconciler.js';

const put = (path: string, content: string): FileChange => ({ op: 'put', path, content: Buffer.from(content) });
const alice = { name: 'Alice', email: 'alice@example.test' };

async function setup() {
  const { store } = await openTestStore();
  const audit = await FileAuditLog.open(join(tempDirForTest(), 'audit.jsonl'));
  onTestFinished(() => audit.close());
  const seed = await store.commit({ changes: [put('a.rego', 'package a\n')], message: 'seed', author: alice, expectedHead: null });
  return { store, audit, seed: seed.revision };
}

describe('reconcileAuditWithHistory', () => {
  test('records Regent commits the audit log missed (a crash between commit and record), oldest first, once', async () => {
    const { store, audit, seed } = await setup();
    const recorded = await store.commit({ changes: [put('a.rego', 'package a\n\nx := 1\n')], message: 'write 1', author: alice, expectedHead: seed, trailers: { 'Regent-Request-Id': 'req-1', 'Regent-Actor': 'alice (admin)' } });
    await audit.append({ action: 'policy.write', outcome: 'success', subject: 'alice', revision: recorded.revision });
    const lost1 = await store.commit({ changes: [put('b.rego', 'package b\n')], message: 'write 2', author: alice, expectedHead: recorded.revision, trailers: { 'Regent-Request-Id': 'req-2', 'Regent-Actor': 'alice (admin)' } });
    // A push into the store without Regent trailers is not a write through Regent: left alone.
    const pushed = await store.commit({ changes: [put('c.rego', 'package c\n')], message: 'pushed by hand', author: alice, expectedHead: lost1.revision });
    const lost2 = await store.commit({ tree: recorded.tree, changes: [], message: 'Roll back', author: alice, expectedHead: pushed.revision, trailers: { 'Regent-Request-Id': 'req-3', 'Regent-Actor': 'bob (admin)', 'Regent-Rollback-Of': recorded.revision } });
    // Activation records name revisions but are not writes.
    await audit.append({ action: 'activation.succeeded', outcome: 'success', subject: 'system', revision: lost2.revision });

    expect(await reconcileAuditWithHistory({ store, audit, logger: silentLogger() })).toBe(2);
    const { records } = await audit.query({ limit: 10 });
    const added = records.filter((record) => record.detail?.startsWith('recorded at start-up'));
    expect(added.map((record) => [record.action, record.revision, record.subject, record.role, record.requestId])).toEqual([
      ['policy.rollback', lost2.revision, 'bob', 'admin', 'req-3'],
      ['policy.write', lost1.revision, 'alice', 'admin', 'req-2'],
    ]);
    expect(added[1]).toMatchObject({ paths: ['b.rego'], baseRevision: recorded.revision });
    expect(await reconcileAuditWithHistory({ store, audit, logger: silentLogger() })).toBe(0);
    expect((await audit.verify()).ok).toBe(true);
  });

  test('adds nothing when every write is on record, or the store is empty', async () => {
    const { store, audit, seed } = await setup();
    const written = await store.commit({ changes: [put('a.rego', 'package a\n\nx := 2\n')], message: 'w', author: alice, expectedHead: seed, trailers: { 'Regent-Request-Id': 'r', 'Regent-Actor': 'alice (admin)' } });
    await audit.append({ action: 'policy.write', outcome: 'success', subject: 'alice', revision: written.revision });
    expect(await reconcileAuditWithHistory({ store, audit, logger: silentLogger() })).toBe(0);
    const empty = await openTestStore();
    expect(await reconcileAuditWithHistory({ store: empty.store, audit, logger: silentLogger() })).toBe(0);
  });
});
