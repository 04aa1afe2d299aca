import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../../test/helpers/git-repo.js';
import type { AuditChainState, AuditLog, AuditRecord, AuditRecordInput } from '../audit/audit-log.js';
import { MirrorService } from './mirror-service.js';
import type { AcceptResult, RemoteMirror, SyncResult } from './remote-mirror.js';

const HEAD = 'a'.repeat(40);
const REWRITTEN = 'b'.repeat(40);

class RecordingAudit implements AuditLog {
  readonly records: AuditRecordInput[] = [];
  async append(record: AuditRecordInput): Promise<AuditRecord> {
    this.records.push(record);
    return { ...record, seq: this.records.length, at: new Date().toISOString(), prev: '' };
  }
  async query(): Promise<{ records: AuditRecord[] }> {
    return { records: [] };
  }
  chain(): AuditChainState {
    return { chain: 'ok', brokenAt: null };
  }
}

/** The port with syncs the test settles by hand. */
function controlledMirror() {
  const pending: Array<(result: SyncResult) => void> = [];
  const mirror: RemoteMirror = {
    description: { url: '/srv/policies.git', branch: 'main', insecureHttp: false },
    sync: () => new Promise<SyncResult>((resolve) => pending.push(resolve)),
    accept: async (remoteTip): Promise<AcceptResult> => ({ previousHead: HEAD, head: remoteTip }),
  };
  return { mirror, pending };
}

const admin = { principal: { subject: 'ada', name: 'Ada', email: 'ada@example.test', role: 'admin' as const }, requestId: 'r1' };
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('MirrorService', () => {
  test('a sync that found the divergence before an accept finished does not put it back afterwards', async () => {
    const { mirror, pending } = controlledMirror();
    const audit = new RecordingAudit();
    const service = MirrorService.create({ mirror, audit, logger: silentLogger(), backoffInitialMs: 1000, backoffMaxMs: 1000 });

    service.request('cron');
    pending.shift()!({ outcome: 'diverged', remoteTip: REWRITTEN, previousHead: HEAD, head: HEAD });
    await settle();
    expect(service.status().state).toBe('diverged');
    expect(audit.records.map((record) => record.action)).toEqual(['mirror.diverged']);

    service.request('webhook'); // in flight while the admin accepts
    await settle();
    await service.accept(REWRITTEN, admin);
    expect(service.status().state).toBe('fresh');
    pending.shift()!({ outcome: 'diverged', remoteTip: REWRITTEN, previousHead: HEAD, head: HEAD });
    await settle();
    expect(service.status()).toMatchObject({ state: 'fresh', diverged: null });
    expect(audit.records.map((record) => record.action)).toEqual(['mirror.diverged', 'mirror.accepted']);
    await service.stop();
  });
});
