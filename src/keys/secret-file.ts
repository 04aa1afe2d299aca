import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../domain/errors.js';

/** A secret from a file that only its owner may read, without trailing newlines; `field` names the config key. */
export function readSecretFile(file: string, field: string): string {
  checkPrivate(file, field);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError('invalid_config', `cannot read ${field} '${file}'`, { field }, { cause: error });
  }
  const secret = text.replace(/[\r\n]+$/, '');
  if (secret.length === 0) throw new InputError('invalid_config', `${field} '${file}' is empty`, { field });
  return secret;
}

/** Refuses a secret file that group or others can read (`insecure_key_file`). */
export function checkPrivate(file: string, field: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    throw new InputError('invalid_config', `cannot read ${field} '${file}'`, { field }, { cause: error });
  }
  if ((mode & 0o077) !== 0) throw new InputError('insecure_key_file', `${field} '${file}' is readable by group or others (hint: chmod 600)`, { field });
}
