import { readFile } from 'node:fs/promises';
import type { CliIo } from './cli-io.js';
import type { FileChangeBody } from './regent-client.js';
import { UsageError } from './usage-error.js';

/** The content of a local file, or of stdin for `-`, as UTF-8 text (the admin API takes text). */
export async function readLocalText(file: string, io: CliIo): Promise<string> {
  let bytes: Buffer;
  if (file === '-') {
    if (!io.readStdin) throw new UsageError('cannot read stdin here');
    bytes = await io.readStdin();
  } else {
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new UsageError(`cannot read '${file}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(bytes) === false) throw new UsageError(`'${file}' is not UTF-8 text`);
  return text;
}

/** `<repo-path>=<local file>` arguments and `--delete <repo-path>` flags as the API's file changes. */
export async function changesFromArguments(pairs: readonly string[], deletions: readonly string[] | undefined, io: CliIo): Promise<FileChangeBody[]> {
  const changes: FileChangeBody[] = [];
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new UsageError(`'${pair}' is not <repo-path>=<local file> (e.g. rbac/data.json=./data.json)`);
    changes.push({ op: 'put', path: pair.slice(0, at), content: await readLocalText(pair.slice(at + 1), io) });
  }
  for (const path of deletions ?? []) changes.push({ op: 'delete', path });
  if (changes.length === 0) throw new UsageError('no changes given');
  return changes;
}
