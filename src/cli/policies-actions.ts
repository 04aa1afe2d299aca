import { writeFile } from 'node:fs/promises';
import { CommandFailure, formatBytes, formatTable, printJson, Progress, shortSha, type CliIo } from './cli-io.js';
import { changesFromArguments, readLocalText } from './change-files.js';
import { formatFinding } from './error-report.js';
import { clientFor, type RemoteFlags } from './remote-commands.js';
import type { RegentClient } from './regent-client.js';
import { UsageError } from './usage-error.js';

/** `regent policies ls` */
export async function list(flags: RemoteFlags & { revision?: string }, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).listPolicies(flags.revision);
  if (flags.json) return printJson(io, body);
  io.stdout(`revision ${body.revision}\n`);
  io.stdout(formatTable(body.files.map((file) => [String(file.path), String(file.kind), formatBytes(file.size), typeof file.package === 'string' ? `package ${file.package}` : '']), ['PATH', 'KIND', 'SIZE', 'PACKAGE']));
}

/** `regent policies get` */
export async function get(path: string, flags: RemoteFlags & { revision?: string; output?: string }, io: CliIo): Promise<void> {
  const { body } = await clientFor(flags, io).readPolicy(path, flags.revision);
  if (flags.output) {
    await writeFile(flags.output, body.content);
    io.stderr(`regent: wrote ${body.path} at ${shortSha(body.revision)} to ${flags.output}\n`);
  }
  if (flags.json) return printJson(io, body);
  if (!flags.output) io.stdout(body.content);
}

/** The revision a write is based on: `--base`, else the head as it is now. */
export async function baseRevision(client: RegentClient, base: string | undefined): Promise<string> {
  const { body } = await client.version(base ?? 'head');
  return String(body.revision);
}

/** One line for a committed write: the new revision and whether the fleet is served it yet. */
export function describeCommitted(result: Record<string, unknown>): string {
  const activation = (result.activation ?? {}) as { state?: string; message?: string };
  const state = activation.state ?? 'unknown';
  const note = state === 'active' ? 'active: agents are being served it' : `activation ${state}${activation.message ? `: ${activation.message}` : ''}`;
  return `committed ${result.revision} (${note})\n`;
}

/** `regent policies put` */
export async function put(path: string, file: string, flags: RemoteFlags & { message: string; base?: string }, io: CliIo): Promise<void> {
  const content = await readLocalText(file, io);
  const client = clientFor(flags, io);
  const baseRevisionSha = await baseRevision(client, flags.base);
  const progress = new Progress(io, flags.json === true);
  const { body } = await progress.timed(`writing ${path} on ${shortSha(baseRevisionSha)} (validated by OPA, then activated)`, () => client.putPolicy(path, { content, message: flags.message, baseRevision: baseRevisionSha }));
  if (flags.json) return printJson(io, body);
  io.stdout(describeCommitted(body));
}

/** `regent policies rm` */
export async function remove(path: string, flags: RemoteFlags & { message: string; base?: string }, io: CliIo): Promise<void> {
  const client = clientFor(flags, io);
  const baseRevisionSha = await baseRevision(client, flags.base);
  const progress = new Progress(io, flags.json === true);
  const { body } = await progress.timed(`deleting ${path} on ${shortSha(baseRevisionSha)}`, () => client.deletePolicy(path, { message: flags.message, baseRevision: baseRevisionSha }));
  if (flags.json) return printJson(io, body);
  io.stdout(describeCommitted(body));
}

/** `regent validate`: exit 1 when the changes fail. */
export async function validate(pairs: string[], flags: RemoteFlags & { delete?: string[]; base?: string }, io: CliIo): Promise<void> {
  const changes = await changesFromArguments(pairs, flags.delete, io);
  const client = clientFor(flags, io);
  const progress = new Progress(io, flags.json === true);
  const { status, body } = await progress.timed('validating with OPA and the bundle builder', () => client.validate({ changes, ...(flags.base ? { baseRevision: flags.base } : {}) }));
  if (flags.json) printJson(io, body);
  else io.stdout(describeValidation(body));
  if (status !== 200 || body.ok !== true) throw new CommandFailure('the changes do not validate');
}

/** A validation report (`ok`, `problems`, `tests`, `bundles`) for people. */
export function describeValidation(report: Record<string, unknown>): string {
  const tests = (report.tests ?? {}) as { passed?: number; failed?: number; errored?: number };
  const problems = Array.isArray(report.problems) ? (report.problems as Array<Record<string, unknown>>) : [];
  const lines = [
    `${report.ok === true ? 'valid' : 'INVALID'}${report.baseRevision ? ` on ${shortSha(report.baseRevision)}` : ''}: ${tests.passed ?? 0} tests passed, ${tests.failed ?? 0} failed, ${tests.errored ?? 0} errored`,
  ];
  if (Array.isArray(report.bundles) && report.bundles.length > 0) lines.push(`bundles: ${report.bundles.join(', ')}`);
  for (const problem of problems) lines.push(`  ${formatFinding(problem)}`);
  return `${lines.join('\n')}\n`;
}

/** `regent evaluate` */
export async function evaluate(query: string, flags: RemoteFlags & { input?: string; inputJson?: string; revision?: string }, io: CliIo): Promise<void> {
  if (flags.input !== undefined && flags.inputJson !== undefined) throw new UsageError('give --input or --input-json, not both');
  const inputText = flags.input !== undefined ? await readLocalText(flags.input, io) : flags.inputJson;
  let input: unknown;
  if (inputText !== undefined) {
    try {
      input = JSON.parse(inputText) as unknown;
    } catch (error) {
      throw new UsageError(`the input is not JSON: ${(error as Error).message}`);
    }
  }
  const { body } = await clientFor(flags, io).evaluate({ query, ...(input === undefined ? {} : { input }), ...(flags.revision ? { revision: flags.revision } : {}) });
  if (flags.json) return printJson(io, body);
  const value = body.defined === false ? 'undefined' : JSON.stringify(body.result, null, 2);
  io.stdout(`${value}\n`);
  io.stderr(`regent: ${query} at ${shortSha(body.revision)} in ${String(body.durationMs)} ms\n`);
}
