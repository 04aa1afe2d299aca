import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { gitRemote } from '../../test/helpers/git-remote.js';
import { openTestStore, silentLogger } from '../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import { reconcileAuditWithHistory } from '../domain/audit/audit-reconciler.js';
import type { FileChange } from '../domain/store/policy-store.js';
import { FileAuditLog } from '../storage/file-audit-log.js';
import { revisionsCommittedHere } from './local-commits.js';

const put = (path: string, content: string): FileChange => ({ op: 'put', path, content: Buffer.from(content) });
const alice = { name: 'Alice', email: 'alice@example.test' };

describe('revisionsCommittedHere (the branch reflog)', () => {
  test('is undefined for a branch that does not exist yet', async () => {
    const { dir } = await openTestStore();
    expect(await revisionsCommittedHere(dir, 'main', 500)).toBeUndefined();
  });

  test('names this store\'s commits, not another replica\'s fetched ones, so the audit reconciler leaves those to that replica\'s record', async () => {
    const remote = await gitRemote({ 'a.rego': 'package a\n' });
    const remoteOptions = { url: remote.dir, credentials: { kind: 'none' as const }, fetchTimeoutMs: 10_000, pushTimeoutMs: 10_000 };
    const here = await openTestStore({ remote: remoteOptions });
    const there = await openTestStore({ remote: remoteOptions });
    await here.store.mirror!.sync();
    const base = (await there.store.mirror!.sync()).head!;
    const theirs = await there.store.commit({ changes: [put('b.rego', 'package b\n')], message: 'through the other replica', author: alice, expectedHead: base, trailers: { 'Regent-Request-Id': 'req-there', 'Regent-Actor': 'alice (admin)' } });
    expect(await here.store.mirror!.sync()).toMatchObject({ outcome: 'fast_forwarded', head: theirs.revision });
    const ours = await here.store.commit({ changes: [put('c.rego', 'package c\n')], message: 'through this replica', author: alice, expectedHead: theirs.revision, trailers: { 'Regent-Request-Id': 'req-here', 'Regent-Actor': 'alice (admin)' } });

    const committedHere = await revisionsCommittedHere(here.dir, here.store.branch, 500);
    expect(committedHere && [...committedHere]).toEqual([ours.revision]);
    const audit = await FileAuditLog.open(join(tempDirForTest(), 'audit.jsonl'));
    onTestFinished(() => audit.close());
    expect(await reconcileAuditWithHistory({ store: here.store, audit, committedHere, logger: silentLogger() })).toBe(1);
    expect((await audit.query({ limit: 10 })).records.map((record) => record.requestId)).toEqual(['req-here']);
    // Without the reflog's word (undefined), every commit with Regent trailers counts, as in local mode.
    const unknowing = await FileAuditLog.open(join(tempDirForTest(), 'audit.jsonl'));
    onTestFinished(() => unknowing.close());
    expect(await reconcileAuditWithHistory({ store: here.store, audit: unknowing, logger: silentLogger() })).toBe(2);
  });
});
