import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate as validateCron } from 'node-cron';
import type { RegentConfig } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import type { RemoteOptions } from '../git/git-remote-mirror.js';
import { assertRemoteUrl, isInsecureHttpUrl, isLoopbackUrl } from '../git/remote-credentials.js';
import { loadRemoteTls } from './load-remote-tls.js';
import { checkPrivate, readSecretFile } from './secret-file.js';

export interface LoadedRemoteSettings {
  remote: RemoteOptions;
  syncSchedule: string;
  /** The remote is plain `http://`, let through by `remote.allowInsecureHttp` (start-up warns, `/status` shows it). */
  insecureHttp: boolean;
  /** Undefined when no webhook secret is configured: `POST /hooks/git` then refuses everything. */
  webhookSecret?: string;
}

/**
 * Turns `config.remote` into what the git adapter and the webhook receiver need, reading secrets from
 * their files (which must not be group- or world-readable) or the environment. An inline SSH key
 * (`REGENT_REMOTE_SSH_KEY`) is written once to `<dataDir>/keys/remote-ssh-key` (0600), because ssh reads
 * keys from files only. TLS files (`remote.caFile`, client certificate) are checked by `loadRemoteTls`. A
 * plain `http://` remote needs `remote.allowInsecureHttp`, and a token goes with it only to a loopback host
 * or with `remote.allowTokenOverInsecureHttp`. Undefined when no remote URL is configured (local mode).
 * Throws `InputError` naming the config key for anything inconsistent.
 */
export function loadRemoteSettings(config: Readonly<RegentConfig>, dataDir: string): LoadedRemoteSettings | undefined {
  const settings = config.remote;
  if (settings.url === undefined) return undefined;
  assertRemoteUrl(settings.url, 'remote.url', { allowInsecureHttp: settings.allowInsecureHttp });
  const insecureHttp = isInsecureHttpUrl(settings.url);
  if (settings.allowTokenOverInsecureHttp && !settings.allowInsecureHttp) throw new InputError('invalid_config', 'remote.allowTokenOverInsecureHttp needs remote.allowInsecureHttp: true', { field: 'remote.allowTokenOverInsecureHttp' });
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
  if (token !== undefined && !settings.url.startsWith('https://') && !insecureHttp) throw new InputError('invalid_config', 'a remote token needs an https:// remote URL', { field: 'remote.token' });
  if (token !== undefined && insecureHttp && !isLoopbackUrl(settings.url) && !settings.allowTokenOverInsecureHttp) {
    throw new InputError('insecure_remote_token', `remote.token / remote.tokenFile would travel in clear to a host that is not this machine over http (remote.allowInsecureHttp); use https, or set remote.allowTokenOverInsecureHttp: true if the network is yours`, { field: 'remote.allowTokenOverInsecureHttp' });
  }
  const tls = loadRemoteTls(settings, dataDir, settings.url);
  const webhookSecret = settings.webhookSecret ?? (settings.webhookSecretFile ? readSecretFile(settings.webhookSecretFile, 'remote.webhookSecretFile') : undefined);
  if (webhookSecret !== undefined && Buffer.byteLength(webhookSecret) < 16) throw new InputError('invalid_config', 'the webhook secret must be at least 16 bytes', { field: 'remote.webhookSecretFile' });
  if (settings.backoffMaxMs < settings.backoffInitialMs) throw new InputError('invalid_config', 'remote.backoffMaxMs must not be below remote.backoffInitialMs', { field: 'remote.backoffMaxMs' });
  const credentials: RemoteOptions['credentials'] = token !== undefined
    ? { kind: 'token', token, username: settings.tokenUsername }
    : sshKeyFile !== undefined
      ? { kind: 'ssh', keyFile: sshKeyFile, knownHostsFile: settings.knownHostsFile, strictHostKeyChecking: settings.strictHostKeyChecking }
      : { kind: 'none' };
  return {
    remote: {
      url: settings.url, branch: settings.branch, credentials, tls, allowInsecureHttp: settings.allowInsecureHttp,
      fetchTimeoutMs: settings.fetchTimeoutMs, pushTimeoutMs: settings.pushTimeoutMs,
    },
    syncSchedule: settings.syncSchedule,
    insecureHttp,
    webhookSecret,
  };
}
