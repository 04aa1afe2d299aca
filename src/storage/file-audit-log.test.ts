import { createHash } from 'node:crypto';
import { appendFile, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { silentLogger } from '../../test/helpers/git-repo.js';
import { tempDirForTest } from '../../test/helpers/temp-dir.js';
import type { AuditRecordInput } from '../domain/audit/audit-log.js';
import { AUDIT_LIMITS, ZERO_HASH } from './audit-record-codec.js';
import { FileAuditLog, type OpenFileAuditLogOptions } from './file-audit-log.js';

const write = (subject: string, paths: string[], extra: Partial<AuditRecordInput> = {}): AuditRecordInput => ({
  action: 'policy.write', outcome: 'success', subject, role: 'editor', paths, ...extra,
});

/** A clock that starts at 2026-01-01T00:00:00Z and moves one minute per record. */
function minuteClock(): () => Date {
  let minutes = 0;
  return () => new Date(Date.UTC(2026, 0, 1, 0, minutes++));
}

async function openLog(options: OpenFileAuditLogOptions & { path?: string } = {}) {
  const path = options.path ?? join(tempDirForTest('regent-audit-'), 'audit', 'audit.jsonl');
  const logger = silentLogger();
  const log = await FileAuditLog.open(path, { logger, ...options });
  onTestFinished(() => log.close());
  return { log, path, logger };
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Lines of a valid chain as FileAuditLog writes them (`middle` replaces a line's text, keeping the chain). */
function chainedLines(count: number, message: string, middle: Record<number, string> = {}): string[] {
  const result: string[] = [];
  let prev = ZERO_HASH;
  for (let seq = 1; seq <= count; seq += 1) {
    const line = middle[seq] ?? JSON.stringify({ seq, at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(), prev, action: 'policy.write', outcome: 'success', subject: `user${seq}`, message });
    result.push(line);
    prev = sha256(line);
  }
  return result;
}

describe('append', () => {
  test('writes one JSON line per record with consecutive seqs, the time and a hash chain', async () => {
    const { log, path } = await openLog({ now: minuteClock() });
    const first = await log.append(write('alice', ['a.rego'], { requestId: 'r1', revision: 'a'.repeat(40) }));
    const second = await log.append({ action: 'auth.refused', outcome: 'refused', subject: 'anonymous', reason: 'invalid_token' });
    expect(first).toEqual({
      seq: 1, at: '2026-01-01T00:00:00.000Z', prev: ZERO_HASH, action: 'policy.write', outcome: 'success',
      subject: 'alice', role: 'editor', requestId: 'r1', revision: 'a'.repeat(40), paths: ['a.rego'],
    });
    const [line1, line2] = await lines(path);
    expect(JSON.parse(line1!)).toEqual(first);
    expect(JSON.parse(line2!)).toEqual(second);
    expect(second).toMatchObject({ seq: 2, at: '2026-01-01T00:01:00.000Z', prev: sha256(line1!) });
  });

  test('caps long strings and long path lists, and drops fields the record does not have', async () => {
    const { log } = await openLog();
    const record = await log.append({
      ...write('x'.repeat(1000), Array.from({ length: 150 }, (_, i) => `p${i}.rego`)),
      message: 'm'.repeat(5000), detail: 'd'.repeat(5000), smuggled: 'no',
    } as AuditRecordInput);
    expect(record.subject).toHaveLength(AUDIT_LIMITS.field);
    expect(record.message).toHaveLength(AUDIT_LIMITS.message);
    expect(record.message!.endsWith('…')).toBe(true);
    expect(record.detail).toHaveLength(AUDIT_LIMITS.detail);
    expect(record.paths).toHaveLength(100);
    expect(record).not.toHaveProperty('smuggled');
  });

  test('refuses an unknown action without writing or using up a seq', async () => {
    const { log, path } = await openLog();
    await expect(log.append({ action: 'policy.deleted', outcome: 'success' } as unknown as AuditRecordInput)).rejects.toThrow(TypeError);
    expect((await log.append(write('alice', []))).seq).toBe(1);
    expect(await lines(path)).toHaveLength(1);
  });

  test('gives 100 concurrent appends 100 distinct consecutive seqs on a valid chain', async () => {
    const { log, path } = await openLog();
    const records = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(write(`user${i}`, [`p${i}.rego`]))));
    expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await lines(path)).toHaveLength(100);
    expect(await log.verify()).toEqual({ ok: true, records: 100 });
  });

  test('undoes a write whose flush fails, so the next append continues the chain', async () => {
    const { log, path } = await openLog();
    await log.append(write('alice', []));
    const probe = await open(path, 'r');
    const fileHandleProto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const spy = vi.spyOn(fileHandleProto, 'datasync').mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }));
    try {
      await expect(log.append(write('bob', []))).rejects.toThrow(/audit record 2 could not be written/);
    } finally {
      spy.mockRestore();
    }
    expect((await log.append(write('carol', []))).seq).toBe(2);
    expect((await lines(path)).map((line) => JSON.parse(line).subject)).toEqual(['alice', 'carol']);
    expect(await log.verify()).toEqual({ ok: true, records: 2 });
  });

  test('lets appends made before close finish, and refuses appends after it', async () => {
    const { log, path } = await openLog();
    const pending = [log.append(write('alice', [])), log.append(write('bob', []))];
    await log.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(2);
    await expect(log.append(write('carol', []))).rejects.toThrow(/closed/);
    expect(await lines(path)).toHaveLength(2);
  });
});

describe('query', () => {
  async function populated() {
    const opened = await openLog({ now: minuteClock() });
    const { log } = opened;
    await log.append(write('alice', ['team/a.rego', 'x.json']));                                // 1 @ 00:00
    await log.append(write('bob', ['team/sub/b.rego']));                                        // 2 @ 00:01
    await log.append({ action: 'write.refused', outcome: 'refused', subject: 'bob', paths: ['teams/c.rego'] }); // 3 @ 00:02
    await log.append({ action: 'activation.succeeded', outcome: 'success', revision: 'b'.repeat(40) });         // 4 @ 00:03
    await log.append(write('alice', ['team/a.rego']));                                          // 5 @ 00:04
    return opened;
  }
  const seqs = (result: { records: Array<{ seq: number }> }) => result.records.map((record) => record.seq);

  test('returns records newest first', async () => {
    const { log } = await populated();
    expect(seqs(await log.query({}))).toEqual([5, 4, 3, 2, 1]);
  });

  test.each([
    ['subject', { subject: 'alice' }, [5, 1]],
    ['an unknown subject', { subject: 'mallory' }, []],
    ['action', { action: 'write.refused' }, [3]],
    ['an exact file path', { path: 'team/a.rego' }, [5, 1]],
    ['a directory path (not a sibling with the same prefix)', { path: 'team' }, [5, 2, 1]],
    ['a directory path with a trailing slash', { path: 'team/sub/' }, [2]],
    ['since (inclusive)', { since: '2026-01-01T00:03:00.000Z' }, [5, 4]],
    ['until (inclusive)', { until: '2026-01-01T00:01:00Z' }, [2, 1]],
    ['before', { before: 3 }, [2, 1]],
    ['several filters at once', { subject: 'bob', path: 'team', since: '2026-01-01T00:00:30Z' }, [2]],
  ] as const)('filters by %s', async (_name, query, expected) => {
    const { log } = await populated();
    expect(seqs(await log.query(query))).toEqual(expected);
  });

  test('pages backwards with limit and nextBefore, without nextBefore on the last page', async () => {
    const { log } = await populated();
    const first = await log.query({ limit: 2 });
    expect(seqs(first)).toEqual([5, 4]);
    expect(first.nextBefore).toBe(4);
    const second = await log.query({ limit: 2, before: first.nextBefore });
    expect(seqs(second)).toEqual([3, 2]);
    const third = await log.query({ limit: 2, before: second.nextBefore });
    expect(third).toEqual({ records: [expect.objectContaining({ seq: 1 })] });
    expect(await log.query({ limit: 5 })).not.toHaveProperty('nextBefore');
  });

  test('returns 50 records by default and refuses a limit above 500', async () => {
    const { log } = await openLog();
    for (let i = 0; i < 60; i += 1) await log.append(write('alice', []));
    const page = await log.query({});
    expect(page.records).toHaveLength(50);
    expect(page.nextBefore).toBe(11);
    await expect(log.query({ limit: 501 })).rejects.toMatchObject({ code: 'invalid_query', details: { field: 'limit' } });
  });
});

describe('durability and recovery', () => {
  test('a reopened log sees every record and continues the sequence and chain', async () => {
    const { log, path } = await openLog();
    for (const subject of ['alice', 'bob', 'carol']) await log.append(write(subject, ['a.rego']));
    await log.close();
    const reopened = await openLog({ path });
    expect((await reopened.log.query({})).records.map((record) => record.subject)).toEqual(['carol', 'bob', 'alice']);
    const next = await reopened.log.append(write('dave', []));
    expect(next).toMatchObject({ seq: 4, prev: sha256((await lines(path))[2]!) });
    expect(await reopened.log.verify()).toEqual({ ok: true, records: 4 });
  });

  test.each([
    ['has no newline', '{"seq":3,"at":"2026-01-01T00:0'],
    ['is not JSON', '\0\0\0\0\n'],
  ])('a torn last line that %s is moved aside and cut off', async (_name, tail) => {
    const { log, path } = await openLog();
    await log.append(write('alice', []));
    await log.append(write('bob', []));
    await log.close();
    const intact = await readFile(path);
    await appendFile(path, tail);
    const { log: reopened, logger } = await openLog({ path });
    expect(await readFile(path)).toEqual(intact);
    const tornFiles = (await readdir(join(path, '..'))).filter((name) => name.startsWith('audit.jsonl.torn-'));
    expect(tornFiles).toHaveLength(1);
    expect(await readFile(join(path, '..', tornFiles[0]!), 'utf8')).toBe(tail);
    expect(logger.entries).toContainEqual({ level: 'warn', message: 'torn last line of the audit log moved aside' });
    expect(await reopened.append(write('carol', []))).toMatchObject({ seq: 3 });
    expect(await reopened.verify()).toEqual({ ok: true, records: 3 });
  });

  test('a tampered middle line breaks verify() at the next line; reopened, the log reports where and appends nothing', async () => {
    const { log, path } = await openLog();
    for (const subject of ['alice', 'bob', 'carol']) await log.append(write(subject, []));
    const original = await lines(path);
    await writeFile(path, `${[original[0], original[1]!.replace('"bob"', '"eve"'), original[2]].join('\n')}\n`);
    expect(await log.verify()).toMatchObject({ ok: false, records: 3, brokenAt: 3 });
    await log.close();
    const tampered = await readFile(path);
    const { log: reopened, logger } = await openLog({ path, name: 'audit/audit.jsonl' });
    expect(logger.entries).toContainEqual({ level: 'error', message: 'audit log hash chain is broken' });
    expect(reopened.chain()).toEqual({ chain: 'broken', brokenAt: { file: 'audit/audit.jsonl', line: 3, seq: 3, reason: 'prev is not the SHA-256 of the line before' } });
    expect(await reopened.verify()).toMatchObject({ ok: false, brokenAt: 3, reason: 'prev is not the SHA-256 of the line before' });
    await expect(reopened.append(write('dave', []))).rejects.toMatchObject({ code: 'audit_chain_broken', details: { file: 'audit/audit.jsonl', line: 3, seq: 3 } });
    expect(await readFile(path)).toEqual(tampered);
    expect((await reopened.query({ subject: 'eve' })).records).toHaveLength(1);
  });

  test("with onBrokenChain 'refuse' a broken chain stops the open, naming the file, line and seq", async () => {
    const { log, path } = await openLog();
    for (const subject of ['alice', 'bob', 'carol']) await log.append(write(subject, []));
    const original = await lines(path);
    await log.close();
    await writeFile(path, `${[original[0], original[2]].join('\n')}\n`);
    await expect(FileAuditLog.open(path, { onBrokenChain: 'refuse', logger: silentLogger() })).rejects.toMatchObject({
      code: 'audit_chain_broken',
      message: expect.stringContaining(`the audit log ${path} is broken at line 2 (seq 3)`) as unknown as string,
      details: { file: path, line: 2, seq: 3 },
    });
  });

  test('a complete last line that is not a record is a break, not a crash artefact: an append writes its line and newline at once', async () => {
    const { log, path } = await openLog();
    await log.append(write('alice', []));
    await log.close();
    await appendFile(path, 'hello\n');
    const { log: reopened } = await openLog({ path });
    expect(reopened.chain()).toMatchObject({ chain: 'broken', brokenAt: { line: 2, seq: null, reason: 'the line is not an audit record' } });
    expect((await readdir(join(path, '..'))).filter((name) => name.includes('.torn-'))).toEqual([]);
  });

  test('reads a log larger than one read chunk, with lines spanning chunk boundaries', async () => {
    const path = join(tempDirForTest('regent-audit-'), 'audit.jsonl');
    await writeFile(path, `${chainedLines(3000, 'm'.repeat(900)).join('\n')}\n`);
    const { log } = await openLog({ path });
    expect(await log.verify()).toEqual({ ok: true, records: 3000 });
    expect((await log.query({ limit: 1 })).records[0]).toMatchObject({ seq: 3000, subject: 'user3000' });
    expect((await log.append(write('alice', []))).seq).toBe(3001);
  });

  test('an over-long middle line breaks the chain without stopping the log', async () => {
    const path = join(tempDirForTest('regent-audit-'), 'audit.jsonl');
    await writeFile(path, `${chainedLines(3, 'hello', { 2: 'x'.repeat(1_500_000) }).join('\n')}\n`);
    const { log, logger } = await openLog({ path });
    expect(logger.entries).toContainEqual({ level: 'error', message: 'audit log hash chain is broken' });
    expect(log.chain()).toMatchObject({ chain: 'broken', brokenAt: { line: 2, seq: null } });
    expect(await log.verify()).toEqual({ ok: false, records: 3, brokenAt: 2, reason: 'the line is not an audit record' });
    expect((await log.query({})).records.map((record) => record.seq)).toEqual([3, 1]);
  });

  test.each([
    ['a deleted first line', (all: string[]) => all.slice(1), 1],
    ['two swapped lines', (all: string[]) => [all[0]!, all[2]!, all[1]!], 2],
    ['an edited last line', (all: string[]) => [all[0]!, all[1]!, all[2]!.replace('"carol"', '"eve"')], 3],
  ])('verify() reports %s', async (_name, edit, brokenAt) => {
    const { log, path } = await openLog();
    for (const subject of ['alice', 'bob', 'carol']) await log.append(write(subject, []));
    await writeFile(path, `${edit(await lines(path)).join('\n')}\n`);
    expect(await log.verify()).toMatchObject({ ok: false, brokenAt });
  });
});
