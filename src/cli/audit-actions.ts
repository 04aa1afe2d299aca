import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { verifyAuditFile } from '../storage/audit-file-verifier.js';
import { CommandFailure, formatTable, printJson, Progress, shortSha, type CliIo } from './cli-io.js';
import { clientFor, type AuditQueryFlags, type RemoteFlags } from './remote-commands.js';
import { UsageError } from './usage-error.js';

type Json = Record<string, unknown>;

function parseLimit(limit: string | undefined, max: number): number | undefined {
  if (limit === undefined) return undefined;
  if (!/^[1-9]\d{0,5}$/.test(limit) || Number(limit) > max) throw new UsageError(`--limit must be a whole number from 1 to ${max}; got '${limit}'`);
  return Number(limit);
}

/** `regent audit`: the log, newest first. */
export async function list(flags: RemoteFlags & AuditQueryFlags, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).audit({
    subject: flags.subject, path: flags.path, action: flags.action, since: flags.since, until: flags.until, limit: parseLimit(flags.limit, 500),
  });
  if (flags.json) return printJson(io, body);
  io.stdout(formatTable(body.records.map((record) => [
    String(record.seq), String(record.at).slice(0, 19).replace('T', ' '), String(record.action), String(record.outcome ?? ''), String(record.subject ?? ''),
    record.revision ? shortSha(record.revision) : '', String(record.detail ?? record.reason ?? (Array.isArray(record.paths) ? record.paths.join(' ') : '')),
  ]), ['SEQ', 'AT', 'ACTION', 'OUTCOME', 'SUBJECT', 'REVISION', 'DETAIL']));
  const chain = body.chain ?? {};
  io.stdout(`audit chain: ${String(chain.chain)}${chain.brokenAt ? ` (broken at ${JSON.stringify(chain.brokenAt)})` : ''}\n`);
  if (chain.chain !== 'ok') io.stderr('regent: the audit chain is broken: see `regent audit verify`\n');
}

/** `regent audit verify`: offline on a data directory or file, else as the running Regent reports it. Exit 1 when broken. */
export async function verify(flags: RemoteFlags & { dataDir?: string; file?: string }, io: CliIo): Promise<void> {
  if (flags.dataDir !== undefined && flags.file !== undefined) throw new UsageError('give --data-dir or --file, not both');
  const file = flags.file ?? (flags.dataDir === undefined ? undefined : join(flags.dataDir, 'audit', 'audit.jsonl'));
  if (file === undefined) return verifyOnline(flags, io);
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`no audit log at ${path}`);
  const result = await new Progress(io, flags.json === true).timed(`checking every link of ${path}`, () => verifyAuditFile(path));
  if (flags.json) printJson(io, { file: path, ...result });
  else {
    const span = result.firstAt ? `, ${result.firstAt} to ${result.lastAt}` : '';
    io.stdout(result.ok
      ? `chain ok: ${result.records} records (seq 1 to ${result.lastSeq}${span}) in ${path}\n`
      : `chain BROKEN at line ${result.broken!.line}${result.broken!.seq === null ? '' : ` (seq ${result.broken!.seq})`}: ${result.broken!.reason}\n  in ${path} (${result.lines} lines)\n`);
  }
  if (!result.ok) throw new CommandFailure(`the audit log's hash chain is broken at line ${result.broken!.line} of ${path}: that line, or the one before it, is not what was written`);
}

async function verifyOnline(flags: RemoteFlags, io: CliIo): Promise<void> {
  const client = clientFor(flags, io);
  const { body } = await client.audit({ limit: 1 });
  const chain = body.chain ?? {};
  if (flags.json) printJson(io, { url: client.url, ...chain });
  else io.stdout(`chain ${String(chain.chain)} (as checked by the Regent at ${client.url}${chain.brokenAt ? `; broken at ${JSON.stringify(chain.brokenAt)}` : ''})\n`);
  if (chain.chain !== 'ok') throw new CommandFailure('the audit log\'s hash chain is broken');
}

/** `regent fleet` */
export async function fleet(flags: RemoteFlags & { limit?: string; cursor?: string }, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).fleet({ limit: parseLimit(flags.limit, 1000), cursor: flags.cursor });
  if (flags.json) return printJson(io, body);
  const bundles = (body.bundles as Json[] | undefined) ?? [];
  const agents = (body.agents as Json[] | undefined) ?? [];
  io.stdout(`${String(body.total ?? agents.length)} agent(s)\n`);
  if (bundles.length > 0) {
    io.stdout(formatTable(bundles.map((bundle) => [
      `  ${String(bundle.name)}`, bundle.servedRevision ? `serving ${shortSha(bundle.servedRevision)}` : 'not served',
      `${String(bundle.onServedRevision)} of ${String(bundle.agents)} live agents on it`, `${String(bundle.withErrors)} with errors`,
      typeof bundle.convergenceMs === 'number' ? `converged in ${bundle.convergenceMs} ms` : 'not converged',
    ])));
  }
  if (agents.length > 0) {
    io.stdout(formatTable(agents.map((agent) => [
      String(agent.agentId), agent.stale === true ? 'stale' : 'live', String(agent.reportedAt ?? ''),
      ((agent.bundles as Json[] | undefined) ?? []).map((bundle) => `${String(bundle.name)}@${shortSha(bundle.activeRevision)}${bundle.code ? ` (${String(bundle.code)})` : ''}`).join(' '),
    ]), ['AGENT', 'STATE', 'LAST REPORT', 'BUNDLES']));
  }
  if (body.nextCursor) io.stderr(`regent: more: --cursor ${String(body.nextCursor)}\n`);
}
