import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import type { SinkStatus } from '../../src/domain/publishing/sink-publisher.js';
import type { RunningRegent } from '../../src/main.js';
import { eventually } from './opa-agent.js';
import { tempDirForTest } from './temp-dir.js';

/** A file holding `content` with mode 0600 (credentials Regent reads), in the test's temp folder. */
export function secretFile(name: string, content: string): string {
  const file = join(tempDirForTest('regent-secret-'), name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

/** `GET /status` → `sinks`. */
export async function sinksOf(regent: Pick<RunningRegent, 'url'>): Promise<SinkStatus[]> {
  const status = (await (await fetch(`${regent.url}/status`)).json()) as { sinks: SinkStatus[] };
  return status.sinks;
}

/** Waits until sink `name` reports every bundle of `revision` published (for `set`: an environment, or the default set). */
export async function awaitPublished(regent: Pick<RunningRegent, 'url'>, name: string, revision: string, options: { set?: string; timeoutMs?: number } = {}): Promise<SinkStatus> {
  let last: SinkStatus | undefined;
  await eventually(async () => {
    last = (await sinksOf(regent)).find((sink) => sink.name === name);
    const set = options.set ? last?.environments?.[options.set] : last;
    return set?.lastPublished?.revision === revision && set.pending === null;
  }, options.timeoutMs ?? 20_000, () => JSON.stringify(last));
  return last!;
}

/** The revision `/bundles/<path>` serves now: the `.manifest` of the bundle it answers with. */
export async function servedRevision(regent: Pick<RunningRegent, 'url'>, path: string): Promise<string | undefined> {
  const response = await fetch(`${regent.url}/bundles/${path}`);
  if (response.status !== 200) return undefined;
  return manifestRevision(Buffer.from(await response.arrayBuffer()));
}

/** The `revision` of a bundle tarball's `.manifest`. */
export async function manifestRevision(tarball: Buffer): Promise<string | undefined> {
  const manifest = (await readTarball(tarball)).find((file) => file.path === '.manifest');
  return manifest ? (JSON.parse(manifest.content.toString('utf8')) as { revision?: string }).revision : undefined;
}

interface RbacData {
  users: Record<string, { active: boolean }>;
  assignments: Record<string, Array<{ role: string; project: string }>>;
}

/**
 * Commits a change of `rbac/data.json` that makes `user` an admin on apollo and waits until Regent
 * serves it (the catalog swap; sinks follow on their own); returns the new revision.
 */
export async function grantAdmin(regent: Pick<RunningRegent, 'store' | 'activation'>, user: string): Promise<string> {
  const head = (await regent.store.head())!;
  const entry = (await regent.store.listTree(head)).find((file) => file.path === 'rbac/data.json')!;
  const data = JSON.parse((await regent.store.readBlobs([entry.blobId])).get(entry.blobId)!.toString('utf8')) as RbacData;
  data.users[user] = { active: true };
  data.assignments[user] = [{ role: 'admin', project: 'apollo' }];
  const committed = await regent.store.commit({
    changes: [{ op: 'put', path: 'rbac/data.json', content: Buffer.from(JSON.stringify(data, null, 2)) }],
    message: `Make ${user} an admin on apollo`,
    author: { name: 'Test Admin', email: 'admin@example.test' },
    expectedHead: head,
  });
  const outcome = await regent.activation.awaitOutcome(committed.revision, 30_000);
  if (outcome.state !== 'active') throw new Error(`revision ${committed.revision} was not activated: ${JSON.stringify(outcome)}`);
  return committed.revision;
}

/** The input of "may `user` delete a workflow in apollo" (true once {@link grantAdmin} ran for them). */
export function deleteOnApollo(user: string): Record<string, unknown> {
  return { subject: user, action: 'delete', resource: { type: 'workflow', project: 'apollo' } };
}
