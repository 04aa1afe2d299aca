import { formatBytes, formatTable, printJson, Progress, shortSha, type CliIo } from './cli-io.js';
import { formatFinding } from './error-report.js';
import { baseRevision, describeCommitted } from './policies-actions.js';
import { clientFor, type RemoteFlags } from './remote-commands.js';
import { UsageError } from './usage-error.js';

type Json = Record<string, unknown>;

/** `regent status` */
export async function status(flags: RemoteFlags, io: CliIo): Promise<void> {
  const client = clientFor(flags, io);
  const { body } = await client.status();
  if (flags.json) return printJson(io, body);
  const lines = [
    `Regent ${String(body.version ?? '')} at ${client.url}`,
    `branch   ${String(body.branch)}`,
    `head     ${shortSha(body.head)}`,
    `active   ${shortSha(body.active)}${body.activatedAt ? ` (since ${String(body.activatedAt)})` : ''}`,
  ];
  if (body.headDiffersFromActive === true) lines.push('         head is not active: the last good revision is served (see last error)');
  if (body.inProgress) lines.push(`working  activating ${shortSha((body.inProgress as Json).revision ?? body.inProgress)}`);
  const bundles = Object.entries((body.bundles ?? {}) as Record<string, Json>);
  lines.push(`bundles  ${bundles.length === 0 ? 'none served yet' : ''}`.trimEnd());
  if (bundles.length > 0) {
    lines.push(formatTable(bundles.map(([name, bundle]) => [
      `  ${name}`, shortSha(bundle.revision), formatBytes(bundle.size), `${String(bundle.files)} files`, `roots ${(bundle.roots as string[] | undefined)?.join(',') ?? '-'}`, `key ${String(bundle.keyId)}`,
    ])).trimEnd());
  }
  lines.push(`waiters  ${String(body.longPollWaiters ?? 0)} long polls held`);
  const lastError = body.lastError as Json | null | undefined;
  if (lastError) {
    lines.push(`error    ${String(lastError.code)} at ${shortSha(lastError.revision)}: ${String(lastError.message ?? '')}`);
    for (const problem of (lastError.problems as Json[] | undefined) ?? []) lines.push(`           ${formatFinding(problem)}`);
  } else {
    lines.push('error    none');
  }
  const audit = body.audit as Json | undefined;
  if (audit) lines.push(`audit    chain ${String(audit.chain)}${audit.brokenAt ? ` (broken at ${JSON.stringify(audit.brokenAt)})` : ''}`);
  const mirror = body.mirror as Json | undefined;
  if (mirror) lines.push(`mirror   ${String(mirror.state)}${mirror.lastError ? `: ${JSON.stringify(mirror.lastError)}` : ''}`);
  io.stdout(`${lines.join('\n')}\n`);
}

function parseLimit(limit: string | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (!/^[1-9]\d{0,5}$/.test(limit)) throw new UsageError(`--limit must be a whole number from 1; got '${limit}'`);
  return Number(limit);
}

function marks(version: Json): string {
  const tags = [version.head === true ? 'head' : '', version.active === true ? 'active' : ''].filter(Boolean);
  return tags.length > 0 ? `[${tags.join(', ')}]` : '';
}

/** `regent versions [revision]` */
export async function versions(revision: string | undefined, flags: RemoteFlags & { path?: string; limit?: string; cursor?: string }, io: CliIo): Promise<void> {
  const client = clientFor(flags, io);
  if (revision !== undefined) {
    const { body } = await client.version(revision);
    if (flags.json) return printJson(io, body);
    const author = body.author as Json;
    const lines = [`revision ${String(body.revision)} ${marks(body)}`.trimEnd(), `author   ${String(author.name)} <${String(author.email)}>`, `date     ${String(author.date)}`, '', ...String(body.message).trimEnd().split('\n').map((line) => `    ${line}`), ''];
    for (const file of (body.files as Json[] | undefined) ?? []) lines.push(`  ${String(file.status).padEnd(9)} ${String(file.path)}`);
    io.stdout(`${lines.join('\n')}\n`);
    return;
  }
  const { body } = await client.versions({ path: flags.path, limit: parseLimit(flags.limit) ?? 20, cursor: flags.cursor });
  if (flags.json) return printJson(io, body);
  io.stdout(formatTable(body.versions.map((version) => {
    const author = version.author as Json;
    return [shortSha(version.revision), String(author.date).slice(0, 19).replace('T', ' '), String(author.name), marks(version), String(version.subject)];
  }), ['REVISION', 'DATE', 'AUTHOR', '', 'SUBJECT']));
  if (body.nextCursor) io.stderr(`regent: more: --cursor ${body.nextCursor}\n`);
}

/** `regent diff <from> [to]` */
export async function diff(from: string, to: string, flags: RemoteFlags & { stat?: boolean }, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).diff({ from, to });
  if (flags.json) return printJson(io, body);
  if (flags.stat || body.patch === '') {
    io.stdout(`${shortSha(body.from)}..${shortSha(body.to)}: ${body.files.length} file(s) changed\n`);
    io.stdout(formatTable(body.files.map((file) => [`  ${String(file.status)}`, String(file.path)])));
    return;
  }
  io.stdout(body.patch.endsWith('\n') ? body.patch : `${body.patch}\n`);
}

/** `regent rollback <revision>` */
export async function rollback(revision: string, flags: RemoteFlags & { message?: string; base?: string }, io: CliIo): Promise<void> {
  const client = clientFor(flags, io);
  const base = await baseRevision(client, flags.base);
  const progress = new Progress(io, flags.json === true);
  const { body } = await progress.timed(`rolling back to ${revision} (a new commit on ${shortSha(base)}, gated by OPA)`, () => client.rollback(revision, { baseRevision: base, ...(flags.message ? { message: flags.message } : {}) }));
  if (flags.json) return printJson(io, body);
  io.stdout(describeCommitted(body));
}
