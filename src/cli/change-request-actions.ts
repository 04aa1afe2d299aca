import { formatTable, printJson, Progress, shortSha, type CliIo } from './cli-io.js';
import { changesFromArguments } from './change-files.js';
import { formatFinding } from './error-report.js';
import { clientFor, type RemoteFlags } from './remote-commands.js';
import { UsageError } from './usage-error.js';

type Json = Record<string, unknown>;

function checkedId(id: string): string {
  if (!/^[1-9]\d{0,9}$/.test(id)) throw new UsageError(`a change request id is a whole number from 1; got '${id}'`);
  return id;
}

function validationLine(validation: Json | undefined): string {
  if (!validation) return 'not validated yet';
  const tests = (validation.tests ?? {}) as Json;
  const state = validation.ok === true ? 'valid' : 'INVALID';
  return `${state} on head ${shortSha(validation.head)}${validation.current === false ? ' (head moved since: revalidating)' : ''}, ${String(tests.passed ?? 0)} tests passed`;
}

/** A change request as a few lines: id, state, title, author, tip, approvals, validation. */
function describe(request: Json): string {
  const author = (request.author ?? {}) as Json;
  const approvals = (request.approvals as Json[] | undefined) ?? [];
  const validation = request.validation as Json | undefined;
  const lines = [
    `#${String(request.id)} ${String(request.state)}: ${String(request.title)}`,
    `  author     ${String(author.name ?? author.subject)} (${String(author.subject)})`,
    `  tip        ${String(request.tip)} on ${shortSha(request.baseRevision)}`,
    `  approvals  ${approvals.length === 0 ? 'none' : approvals.map((approval) => `${String(approval.subject)} at ${shortSha(approval.revision)}`).join(', ')}`,
    `  validation ${validationLine(validation)}`,
  ];
  for (const problem of (validation?.problems as Json[] | undefined) ?? []) lines.push(`    ${formatFinding(problem)}`);
  for (const conflict of (validation?.conflicts as unknown[] | undefined) ?? []) lines.push(`    conflict: ${typeof conflict === 'string' ? conflict : JSON.stringify(conflict)}`);
  if (request.mergedRevision) lines.push(`  merged as  ${String(request.mergedRevision)}`);
  return `${lines.join('\n')}\n`;
}

/** `regent change-requests ls` */
export async function list(flags: RemoteFlags & { state?: string }, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).listChangeRequests(flags.state);
  if (flags.json) return printJson(io, body);
  if (body.changeRequests.length === 0) return io.stdout('no change requests\n');
  io.stdout(formatTable(body.changeRequests.map((request) => [
    `#${String(request.id)}`, String(request.state), String((request.author as Json | undefined)?.subject ?? ''), (request.validation as Json | undefined)?.ok === true ? 'valid' : 'invalid', String(request.title),
  ]), ['ID', 'STATE', 'AUTHOR', 'CHECKS', 'TITLE']));
}

/** `regent change-requests show <id>` */
export async function show(id: string, flags: RemoteFlags, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).changeRequest(checkedId(id));
  if (flags.json) return printJson(io, body);
  io.stdout(describe(body));
  const patch = (body.diff as Json | undefined)?.patch;
  if (typeof patch === 'string' && patch !== '') io.stdout(`\n${patch.endsWith('\n') ? patch : `${patch}\n`}`);
}

/** `regent change-requests propose` */
export async function propose(pairs: string[], flags: RemoteFlags & { title: string; description?: string; message?: string; delete?: string[]; base?: string }, io: CliIo): Promise<void> {
  const changes = await changesFromArguments(pairs, flags.delete, io);
  const client = clientFor(flags, io);
  const progress = new Progress(io, flags.json === true);
  const { body } = await progress.timed('proposing (validated by OPA)', () => client.proposeChangeRequest({
    title: flags.title, changes,
    ...(flags.description ? { description: flags.description } : {}), ...(flags.message ? { message: flags.message } : {}), ...(flags.base ? { baseRevision: flags.base } : {}),
  }));
  if (flags.json) return printJson(io, body);
  io.stdout(describe(body));
}

/** `regent change-requests approve <id>` */
export async function approve(id: string, flags: RemoteFlags & { tip?: string; comment?: string }, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).approveChangeRequest(checkedId(id), { ...(flags.tip ? { tip: flags.tip } : {}), ...(flags.comment ? { comment: flags.comment } : {}) });
  if (flags.json) return printJson(io, body);
  io.stdout(describe(body));
}

/** `regent change-requests merge <id>` */
export async function merge(id: string, flags: RemoteFlags, io: CliIo): Promise<void> {
  const client = clientFor(flags, io);
  const progress = new Progress(io, flags.json === true);
  const { body } = await progress.timed(`merging #${id} (validated on head, then activated)`, () => client.mergeChangeRequest(checkedId(id)));
  if (flags.json) return printJson(io, body);
  const activation = (body.activation ?? {}) as Json;
  io.stdout(`merged #${id} as ${String(body.revision)} (activation ${String(activation.state ?? 'unknown')})\n`);
}

/** `regent change-requests reject <id>` */
export async function reject(id: string, flags: RemoteFlags & { reason?: string }, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).rejectChangeRequest(checkedId(id), flags.reason ? { reason: flags.reason } : {});
  if (flags.json) return printJson(io, body);
  io.stdout(describe(body));
}
