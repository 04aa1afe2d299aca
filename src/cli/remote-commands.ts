import { Command, Option } from 'commander';
import type { CliIo } from './cli-io.js';
import type { CommandRunner } from './program.js';
import { RegentClient } from './regent-client.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Flags every command against a running Regent takes. */
export interface RemoteFlags {
  url?: string;
  token?: string;
  json?: boolean;
}

/** The client for `--url`/`REGENT_URL` and `--token`/`REGENT_TOKEN`. */
export function clientFor(flags: RemoteFlags, io: CliIo): RegentClient {
  return new RegentClient({ url: flags.url ?? io.env.REGENT_URL ?? DEFAULT_URL, token: flags.token ?? (io.env.REGENT_TOKEN || undefined) });
}

function remote(command: Command): Command {
  return command
    .option('--url <url>', `Regent's base URL (default: REGENT_URL, else ${DEFAULT_URL})`)
    .option('--token <jwt>', 'admin API token (default: REGENT_TOKEN; mint one with `regent token`)')
    .option('--json', 'print the server\'s JSON answer, for scripts');
}

const CHANGE_HELP = 'changes: <repo-path>=<local file> (or =- for stdin) puts a file; --delete <repo-path> deletes one';
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `status`, `policies`, `versions`, `diff`, `rollback`, `validate`, `evaluate`, `change-requests`, `audit`, `fleet`. */
export function registerRemoteCommands(program: Command, io: CliIo, run: CommandRunner): void {
  const policiesActions = () => import('./policies-actions.js');
  const historyActions = () => import('./history-actions.js');
  const reviewActions = () => import('./change-request-actions.js');
  const auditActions = () => import('./audit-actions.js');

  remote(program.command('status'))
    .summary('head, active revision, bundles, last error')
    .description('what the Regent serves: head, active revision, bundles, last error, audit chain (GET /status)')
    .action((flags: RemoteFlags) => run(async () => (await historyActions()).status(flags, io)));

  const policies = program.command('policies').summary('list, read, put, delete policy files').description('policy and data files at any revision; change them as commits (admin)');
  remote(policies.command('ls'))
    .description('list the files of a revision')
    .option('-r, --revision <rev>', 'head (default), active, a SHA, branch or tag')
    .action((flags: RemoteFlags & { revision?: string }) => run(async () => (await policiesActions()).list(flags, io)));
  remote(policies.command('get'))
    .description('print one file (raw content; --json for its metadata too)')
    .argument('<path>', 'repository path, e.g. rbac/data.json')
    .option('-r, --revision <rev>', 'head (default), active, a SHA, branch or tag')
    .option('-o, --output <file>', 'write the content to a file instead of stdout')
    .action((path: string, flags: RemoteFlags & { revision?: string; output?: string }) => run(async () => (await policiesActions()).get(path, flags, io)));
  remote(policies.command('put'))
    .description('create or update one file as a commit; answered once the new revision is active')
    .argument('<path>', 'repository path, e.g. rbac/data.json')
    .argument('<file>', 'the local file with the new content, or - for stdin')
    .requiredOption('-m, --message <message>', 'commit message')
    .option('--base <rev>', 'the revision the change is based on (default: the current head); a moved head is refused (409 head_moved)')
    .action((path: string, file: string, flags: RemoteFlags & { message: string; base?: string }) => run(async () => (await policiesActions()).put(path, file, flags, io)));
  remote(policies.command('rm'))
    .description('delete one file as a commit')
    .argument('<path>', 'repository path')
    .requiredOption('-m, --message <message>', 'commit message')
    .option('--base <rev>', 'the revision the change is based on (default: the current head)')
    .action((path: string, flags: RemoteFlags & { message: string; base?: string }) => run(async () => (await policiesActions()).remove(path, flags, io)));

  remote(program.command('validate'))
    .summary('check changes with OPA without committing')
    .description(`check changes with real OPA and the bundle builder without committing (exit 1 when they fail); ${CHANGE_HELP}`)
    .argument('[changes...]', '<repo-path>=<local file> pairs')
    .option('--delete <path>', 'a file the change deletes (repeatable)', collect)
    .option('--base <rev>', 'the revision to apply them to (default: head)')
    .action((changes: string[], flags: RemoteFlags & { delete?: string[]; base?: string }) => run(async () => (await policiesActions()).validate(changes, flags, io)));

  remote(program.command('evaluate'))
    .summary('evaluate a query on any revision')
    .description('evaluate a query with real OPA on any revision (POST /api/evaluate)')
    .argument('<query>', 'e.g. data.rbac.allow')
    .option('-i, --input <file>', 'JSON input from a file, or - for stdin')
    .option('--input-json <json>', 'JSON input given inline')
    .option('-r, --revision <rev>', 'head (default), active, a SHA, branch or tag')
    .action((query: string, flags: RemoteFlags & { input?: string; inputJson?: string; revision?: string }) => run(async () => (await policiesActions()).evaluate(query, flags, io)));

  remote(program.command('versions'))
    .summary('the history, or one revision')
    .description('the history, newest first (head and active marked), or one revision in full')
    .argument('[revision]', 'show this revision with its files')
    .option('--path <path>', 'only revisions that changed this path')
    .option('-n, --limit <n>', 'how many (default 20)')
    .option('--cursor <cursor>', 'continue after a previous page (its nextCursor)')
    .action((revision: string | undefined, flags: RemoteFlags & { path?: string; limit?: string; cursor?: string }) => run(async () => (await historyActions()).versions(revision, flags, io)));

  remote(program.command('diff'))
    .summary('what changed between two revisions')
    .description('what changed between two revisions (a unified patch; --stat for the files only)')
    .argument('<from>', 'older revision')
    .argument('[to]', 'newer revision', 'head')
    .option('--stat', 'list the changed files only')
    .action((from: string, to: string, flags: RemoteFlags & { stat?: boolean }) => run(async () => (await historyActions()).diff(from, to, flags, io)));

  remote(program.command('rollback'))
    .summary('a new commit with an older revision\'s files')
    .description("roll back: a new commit with an older revision's tree, gated like any change (admin)")
    .argument('<revision>', 'the revision whose files become head again')
    .option('-m, --message <message>', 'commit message (default: Roll back to <revision>)')
    .option('--base <rev>', 'the head the rollback is based on (default: the current head)')
    .action((revision: string, flags: RemoteFlags & { message?: string; base?: string }) => run(async () => (await historyActions()).rollback(revision, flags, io)));

  const review = program.command('change-requests').alias('cr').summary('propose, approve, merge (four eyes)').description('four-eyes review inside Regent: propose, approve, merge');
  remote(review.command('ls'))
    .description('list change requests, newest first')
    .addOption(new Option('--state <state>', 'only this state').choices(['open', 'approved', 'rejected', 'merged']))
    .action((flags: RemoteFlags & { state?: string }) => run(async () => (await reviewActions()).list(flags, io)));
  remote(review.command('show'))
    .description('one change request with its validation and diff')
    .argument('<id>', 'change request id')
    .action((id: string, flags: RemoteFlags) => run(async () => (await reviewActions()).show(id, flags, io)));
  remote(review.command('propose'))
    .description(`propose changes for review (editor); validated at once; ${CHANGE_HELP}`)
    .argument('[changes...]', '<repo-path>=<local file> pairs')
    .requiredOption('-t, --title <title>', 'one line')
    .option('-d, --description <text>', 'what and why')
    .option('-m, --message <message>', 'commit message (default: the title)')
    .option('--delete <path>', 'a file the change deletes (repeatable)', collect)
    .option('--base <rev>', 'the revision to propose on (default: head)')
    .action((changes: string[], flags: RemoteFlags & { title: string; description?: string; message?: string; delete?: string[]; base?: string }) => run(async () => (await reviewActions()).propose(changes, flags, io)));
  remote(review.command('approve'))
    .description('approve the current tip (an admin who put no commit on it)')
    .argument('<id>', 'change request id')
    .option('--tip <sha>', 'approve only if this is still the tip you reviewed')
    .option('-c, --comment <text>', 'a comment with the approval')
    .action((id: string, flags: RemoteFlags & { tip?: string; comment?: string }) => run(async () => (await reviewActions()).approve(id, flags, io)));
  remote(review.command('merge'))
    .description('merge an approved, valid change request (admin); answered once the new head is active')
    .argument('<id>', 'change request id')
    .action((id: string, flags: RemoteFlags) => run(async () => (await reviewActions()).merge(id, flags, io)));
  remote(review.command('reject'))
    .description('reject (admin) or withdraw (author)')
    .argument('<id>', 'change request id')
    .option('--reason <text>', 'why')
    .action((id: string, flags: RemoteFlags & { reason?: string }) => run(async () => (await reviewActions()).reject(id, flags, io)));

  const audit = remote(program.command('audit'))
    .summary('the audit log; `audit verify` checks its hash chain')
    .enablePositionalOptions()
    .description('the audit log, newest first (auditor); `audit verify` checks its hash chain')
    .option('--subject <subject>', 'only this actor')
    .option('--path <path>', 'only records naming this file')
    .option('--action <action>', 'e.g. policy.write, change_request.merged')
    .option('--since <time>', 'ISO 8601 time')
    .option('--until <time>', 'ISO 8601 time')
    .option('-n, --limit <n>', 'how many (default 50)')
    .action((flags: RemoteFlags & AuditQueryFlags) => run(async () => (await auditActions()).list(flags, io)));
  audit.command('verify')
    .description("check the audit log's hash chain: offline on a data directory (--data-dir, --file), or ask a running Regent (exit 1 when broken)")
    .option('--data-dir <dir>', 'a data directory (or a copy of one): reads <dir>/audit/audit.jsonl, no lock taken')
    .option('--file <path>', 'an audit.jsonl file')
    .option('--url <url>', `Regent's base URL when neither is given (default: REGENT_URL, else ${DEFAULT_URL})`)
    .option('--token <jwt>', 'admin API token (default: REGENT_TOKEN)')
    .option('--json', 'print the result as JSON')
    .action((flags: RemoteFlags & { dataDir?: string; file?: string }) => run(async () => (await auditActions()).verify(flags, io)));

  remote(program.command('fleet'))
    .summary('the OPA agents and their convergence')
    .description('the OPA agents as they last reported, and how much of the fleet enforces each served revision (auditor)')
    .option('-n, --limit <n>', 'agents per page (default 100)')
    .option('--cursor <cursor>', 'continue after a previous page (its nextCursor)')
    .action((flags: RemoteFlags & { limit?: string; cursor?: string }) => run(async () => (await auditActions()).fleet(flags, io)));
}

export interface AuditQueryFlags {
  subject?: string;
  path?: string;
  action?: string;
  since?: string;
  until?: string;
  limit?: string;
}
