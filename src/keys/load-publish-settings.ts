import type { RegentConfig } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import type { OciSinkSettings } from '../sinks/oci-bundle-sink.js';
import type { S3Credentials, S3SinkSettings } from '../sinks/s3-bundle-sink.js';
import { readSecretFile } from './secret-file.js';

export interface LoadedPublishSettings {
  s3: S3SinkSettings[];
  oci: OciSinkSettings[];
  retry: { initialMs: number; maxMs: number };
  timeoutMs: number;
}

/**
 * Turns `config.publish` into what the S3 and OCI sinks need, reading credentials once at start-up:
 * an S3 sink's from its `credentialsFile` (the AWS shared-credentials format, mode 0600) or from
 * `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`) in `env`, unless
 * `sdkCredentialChain` leaves it to the AWS SDK; an OCI sink's password from `passwordFile` (0600).
 * Plain http goes only to this machine unless `allowInsecureHttp` says otherwise. Throws `InputError`
 * naming the config key.
 */
export function loadPublishSettings(config: Readonly<RegentConfig>, env: NodeJS.ProcessEnv = process.env): LoadedPublishSettings {
  const { publish } = config;
  const s3 = publish.s3.map((sink, index): S3SinkSettings => {
    const field = `publish.s3.${index}`;
    if (sink.endpoint && (new URL(sink.endpoint).username || new URL(sink.endpoint).password)) {
      throw new InputError('invalid_config', `${field}.endpoint carries credentials; put them in ${field}.credentialsFile or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`, { field: `${field}.endpoint` });
    }
    if (sink.endpoint?.startsWith('http:') && !isLoopbackHost(new URL(sink.endpoint).hostname) && !sink.allowInsecureHttp) {
      throw new InputError('invalid_config', `${field}.endpoint is plain http to a host that is not this machine; use https, or set allowInsecureHttp: true if the network is yours`, { field: `${field}.endpoint` });
    }
    if (sink.credentialsFile && sink.sdkCredentialChain) throw new InputError('invalid_config', `set ${field}.credentialsFile or ${field}.sdkCredentialChain, not both`, { field: `${field}.sdkCredentialChain` });
    const credentials = sink.sdkCredentialChain
      ? undefined
      : sink.credentialsFile
        ? credentialsFromFile(sink.credentialsFile, sink.profile, `${field}.credentialsFile`)
        : credentialsFromEnv(env, field);
    return {
      name: sink.name,
      ...(sink.endpoint ? { endpoint: sink.endpoint } : {}),
      region: sink.region,
      bucket: sink.bucket,
      prefix: sink.prefix.replace(/^\/+|\/+$/g, ''),
      forcePathStyle: sink.forcePathStyle,
      ...(credentials ? { credentials } : {}),
      timeoutMs: publish.timeoutMs,
    };
  });
  const oci = publish.oci.map((sink, index): OciSinkSettings => {
    const field = `publish.oci.${index}`;
    if (sink.insecure && !isLoopbackHost(hostOf(sink.registry)) && !sink.allowInsecureHttp) {
      throw new InputError('invalid_config', `${field}.insecure sends bundles and credentials over plain http to a registry that is not this machine; use https, or set allowInsecureHttp: true if the network is yours`, { field: `${field}.insecure` });
    }
    if ((sink.username === undefined) !== (sink.passwordFile === undefined)) {
      throw new InputError('invalid_config', `${field} needs both username and passwordFile, or neither`, { field: `${field}.${sink.username === undefined ? 'username' : 'passwordFile'}` });
    }
    const credentials = sink.username !== undefined && sink.passwordFile !== undefined
      ? { username: sink.username, password: readSecretFile(sink.passwordFile, `${field}.passwordFile`) }
      : undefined;
    return { name: sink.name, registry: sink.registry, repository: sink.repository, insecure: sink.insecure, ...(credentials ? { credentials } : {}) };
  });
  return { s3, oci, retry: { initialMs: publish.retryInitialMs, maxMs: publish.retryMaxMs }, timeoutMs: publish.timeoutMs };
}

function credentialsFromEnv(env: NodeJS.ProcessEnv, field: string): S3Credentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new InputError('invalid_config', `${field} has no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ${field}.credentialsFile, or ${field}.sdkCredentialChain: true`, { field: `${field}.credentialsFile` });
  }
  return { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}

/**
 * Reads one profile of an AWS shared-credentials file (`[default]` / `aws_access_key_id = ...` /
 * `aws_secret_access_key = ...` / optional `aws_session_token = ...`).
 */
export function credentialsFromFile(file: string, profile: string, field: string): S3Credentials {
  const text = readSecretFile(file, field);
  const values = new Map<string, string>();
  let section: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const pair = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (pair && section === profile) values.set(pair[1]!.toLowerCase(), pair[2]!.trim());
  }
  const accessKeyId = values.get('aws_access_key_id');
  const secretAccessKey = values.get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) {
    throw new InputError('invalid_config', `${field} '${file}' has no aws_access_key_id and aws_secret_access_key in profile [${profile}]`, { field });
  }
  const sessionToken = values.get('aws_session_token');
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

function hostOf(registry: string): string {
  return registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.replace(/:\d+$/, '');
}

/** 127.0.0.0/8, `::1` (with or without brackets) or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
