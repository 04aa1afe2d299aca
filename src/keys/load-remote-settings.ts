import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate as validateCron } from 'node-cron';
import type { RegentConfig } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import type { RemoteOptions } from '../git/git-remote-mirror.js';
import { assertRemoteUrl } from '../git/remote-credentials.js';

export interface LoadedRemoteSettings {
  remote: RemoteOptions;
  syncSchedule: string;
  /** Undefined when no webhook secret is configured: `POST /hooks/git` then refuses everything. */
  webhookSecret?: string;
}

/**
 * Turns `config.remote` into what the git adapter and the webhook receiver need, reading secrets from
 * their files (which must not be group- or world-readable) or the environment. An inline SSH key
 * (`REGENT_REMOTE_SSH_KEY`) is written once to `<dataDir>/keys/remote-ssh-key` (0600), because ssh reads
 * keys from files only. Undefined when no remote URL is configured (local mode). Throws `InputError`
 * naming the config key for anything inconsistent.
 */
export function loadRemoteSettings(config: Readonly<RegentConfig>, dataDir: string): LoadedRemoteSettings | undefined {
  const settings = config.remote;
  if (settings.url === undefined) return undefined;
  assertRemoteUrl(settings.url);
  if (!validateCron(settings.syncSchedule)) throw new InputError('invalid_config', `remote.syncSchedule '${settings.syncSchedule}' is not a cron expression`, { field: 'remote.syncSchedule' });
  const token = settings.token ?? (settings.tokenFile ? readSecretFile(settings.tokenFile, 'remote.tokenFile') : undefined);
  let sshKeyFile = settings.sshKeyFile;
  if (settings.sshKey !== undefined) {
    if (sshKeyFile !== undefined) throw new InputError('invalid_config', 'set remote.sshKey or remote.sshKeyFile, not both', { field: 'remote.sshKey' });
    mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    sshKeyFile = join(dataDir, 'keys', 'remote-ssh-key');
    writeFileSync(sshKeyFile, settings.sshKey.endsWith('\n') ? settings.sshKey : `${settings.sshKey}\n`, { mode: 0o600 });
    // The mode option only applies when the file is created: an existing file keeps its mode otherwise.
    chmodSync(sshKeyFile, 0o600);
  } else if (sshKeyFile !== undefined) {
    checkPrivate(sshKeyFile, 'remote.sshKeyFile');
  }
  if (token !== undefined && sshKeyFile !== undefined) throw new InputError('invalid_config', 'configure a token or an SSH key for the remote, not both', { field: 'remote.token' });
  if (token !== undefined && !settings.url.startsWith('https://')) throw new InputError('invalid_config', 'a remote token needs an https:// remote URL', { field: 'remote.token' });
  const webhookSecret = settings.webhookSecret ?? (settings.webhookSecretFile ? readSecretFile(settings.webhookSecretFile, 'remote.webhookSecretFile') : undefined);
  if (webhookSecret !== undefined && Buffer.byteLength(webhookSecret) < 16) throw new InputError('invalid_config', 'the webhook secret must be at least 16 bytes', { field: 'remote.webhookSecretFile' });
  if (settings.backoffMaxMs < settings.backoffInitialMs) throw new InputError('invalid_config', 'remote.backoffMaxMs must not be below remote.backoffInitialMs', { field: 'remote.backoffMaxMs' });
  const credentials: RemoteOptions['credentials'] = token !== undefined
    ? { kind: 'token', token, username: settings.tokenUsername }
    : sshKeyFile !== undefined
      ? { kind: 'ssh', keyFile: sshKeyFile, knownHostsFile: settings.knownHostsFile, strictHostKeyChecking: settings.strictHostKeyChecking }
      : { kind: 'none' };
  return {
    remote: { url: settings.url, branch: settings.branch, credentials, fetchTimeoutMs: settings.fetchTimeoutMs, pushTimeoutMs: settings.pushTimeoutMs },
    syncSchedule: settings.syncSchedule,
    webhookSecret,
  };
}

function readSecretFile(file: string, field: string): string {
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

function checkPrivate(file: string, field: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    throw new InputError('invalid_config', `cannot read ${field} '${file}'`, { field }, { cause: error });
  }
  if ((mode & 0o077) !== 0) throw new InputError('insecure_key_file', `${field} '${file}' is readable by group or others (hint: chmod 600)`, { field });
}
