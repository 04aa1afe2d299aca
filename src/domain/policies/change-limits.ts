import { InputError } from '../errors.js';
import type { FileChange } from '../store/policy-store.js';
import { validateWritablePath } from './policy-path.js';

/** The limits every change made through the API is held to, direct or proposed. */
export interface FileChangeLimits {
  maxFileBytes: number;
  maxFilesPerChange: number;
}

/**
 * The checks a change gets before OPA sees it: at least one and at most `maxFilesPerChange` file
 * operations, every path on the writable allow-list, every file UTF-8 and at most `maxFileBytes`.
 */
export function checkFileChanges(changes: readonly FileChange[], limits: FileChangeLimits): void {
  const { maxFileBytes, maxFilesPerChange } = limits;
  if (changes.length === 0) throw new InputError('no_changes', 'a change needs at least one file operation', { field: 'changes' });
  if (changes.length > maxFilesPerChange) throw new InputError('too_many_files', `a change may touch at most ${maxFilesPerChange} files`, { field: 'changes' });
  for (const change of changes) {
    validateWritablePath(change.path);
    if (change.op === 'put') {
      if (change.content.length > maxFileBytes) throw new InputError('file_too_large', `'${change.path}' is ${change.content.length} bytes; the limit is ${maxFileBytes}`, { file: change.path, field: 'content' });
      if (!isUtf8(change.content)) throw new InputError('invalid_encoding', `'${change.path}' is not valid UTF-8`, { file: change.path, field: 'content' });
    }
  }
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
