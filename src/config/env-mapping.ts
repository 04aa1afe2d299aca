/**
 * `REGENT_*` environment variables and the config keys they set. Values are parsed per the key's type:
 * `number` and `boolean` are converted here; zod validates the result.
 */
export const envMapping: ReadonlyArray<{ env: string; path: readonly string[]; type: 'string' | 'number' | 'boolean' }> = [
  { env: 'REGENT_DEV', path: ['dev'], type: 'boolean' },
  { env: 'REGENT_HOST', path: ['host'], type: 'string' },
  { env: 'REGENT_PORT', path: ['port'], type: 'number' },
  { env: 'REGENT_DATA_DIR', path: ['dataDir'], type: 'string' },
  { env: 'REGENT_LOG_LEVEL', path: ['log', 'level'], type: 'string' },
  { env: 'REGENT_BRANCH', path: ['store', 'branch'], type: 'string' },
  { env: 'REGENT_SEED_DIR', path: ['store', 'seedDir'], type: 'string' },
  { env: 'REGENT_WATCH_INTERVAL_MS', path: ['store', 'watchIntervalMs'], type: 'number' },
  { env: 'REGENT_SIGNING_KEY_ID', path: ['signing', 'keyId'], type: 'string' },
  { env: 'REGENT_SIGNING_ALG', path: ['signing', 'algorithm'], type: 'string' },
  { env: 'REGENT_SIGNING_KEY_FILE', path: ['signing', 'privateKeyFile'], type: 'string' },
  { env: 'REGENT_SIGNING_KEY', path: ['signing', 'privateKey'], type: 'string' },
  { env: 'REGENT_SIGNING_SCOPE', path: ['signing', 'scope'], type: 'string' },
  { env: 'REGENT_OPA_PATH', path: ['opa', 'path'], type: 'string' },
  { env: 'REGENT_OPA_TIMEOUT_MS', path: ['opa', 'timeoutMs'], type: 'number' },
  { env: 'REGENT_OPA_EVALUATE_TIMEOUT_MS', path: ['opa', 'evaluateTimeoutMs'], type: 'number' },
  { env: 'REGENT_OPA_MAX_CONCURRENCY', path: ['opa', 'maxConcurrency'], type: 'number' },
  { env: 'REGENT_OPA_MAX_QUEUED', path: ['opa', 'maxQueued'], type: 'number' },
  { env: 'REGENT_OPA_MEMORY_LIMIT_MIB', path: ['opa', 'memoryLimitMiB'], type: 'number' },
  { env: 'REGENT_AUTH_SECRET', path: ['auth', 'secret'], type: 'string' },
  { env: 'REGENT_AUTH_SECRET_FILE', path: ['auth', 'secretFile'], type: 'string' },
  { env: 'REGENT_AUTH_PUBLIC_KEY_FILE', path: ['auth', 'publicKeyFile'], type: 'string' },
  { env: 'REGENT_AUTH_ISSUER', path: ['auth', 'issuer'], type: 'string' },
  { env: 'REGENT_AUTH_AUDIENCE', path: ['auth', 'audience'], type: 'string' },
  { env: 'REGENT_AUTH_ROLE_CLAIM', path: ['auth', 'roleClaim'], type: 'string' },
  { env: 'REGENT_AUDIT_ON_BROKEN_CHAIN', path: ['audit', 'onBrokenChain'], type: 'string' },
  { env: 'REGENT_CHANGE_REQUESTS_MERGE_STRATEGY', path: ['changeRequests', 'mergeStrategy'], type: 'string' },
  { env: 'REGENT_CHANGE_REQUESTS_REQUIRE_APPROVAL', path: ['changeRequests', 'requireApproval'], type: 'boolean' },
  { env: 'REGENT_LONG_POLL_MAX_SECONDS', path: ['bundles', 'longPollMaxSeconds'], type: 'number' },
  { env: 'REGENT_RELEASE_BATCH_SIZE', path: ['bundles', 'releaseBatchSize'], type: 'number' },
  { env: 'REGENT_FLEET_REPORT_TOKEN', path: ['fleet', 'reportToken'], type: 'string' },
  { env: 'REGENT_FLEET_STUCK_AFTER_SECONDS', path: ['fleet', 'stuckAfterSeconds'], type: 'number' },
  { env: 'REGENT_DECISION_LOGS_MAX_BYTES', path: ['decisionLogs', 'maxBytes'], type: 'number' },
  { env: 'REGENT_DECISION_LOGS_MAX_AGE_DAYS', path: ['decisionLogs', 'maxAgeDays'], type: 'number' },
  { env: 'REGENT_METRICS_ENABLED', path: ['metrics', 'enabled'], type: 'boolean' },
  { env: 'REGENT_METRICS_TOKEN', path: ['metrics', 'token'], type: 'string' },
  { env: 'REGENT_REMOTE_URL', path: ['remote', 'url'], type: 'string' },
  { env: 'REGENT_REMOTE_BRANCH', path: ['remote', 'branch'], type: 'string' },
  { env: 'REGENT_REMOTE_TOKEN', path: ['remote', 'token'], type: 'string' },
  { env: 'REGENT_REMOTE_TOKEN_FILE', path: ['remote', 'tokenFile'], type: 'string' },
  { env: 'REGENT_REMOTE_TOKEN_USERNAME', path: ['remote', 'tokenUsername'], type: 'string' },
  { env: 'REGENT_REMOTE_SSH_KEY', path: ['remote', 'sshKey'], type: 'string' },
  { env: 'REGENT_REMOTE_SSH_KEY_FILE', path: ['remote', 'sshKeyFile'], type: 'string' },
  { env: 'REGENT_REMOTE_KNOWN_HOSTS_FILE', path: ['remote', 'knownHostsFile'], type: 'string' },
  { env: 'REGENT_REMOTE_CA_FILE', path: ['remote', 'caFile'], type: 'string' },
  { env: 'REGENT_REMOTE_CLIENT_CERT_FILE', path: ['remote', 'clientCertFile'], type: 'string' },
  { env: 'REGENT_REMOTE_CLIENT_KEY_FILE', path: ['remote', 'clientKeyFile'], type: 'string' },
  { env: 'REGENT_REMOTE_SYNC_SCHEDULE', path: ['remote', 'syncSchedule'], type: 'string' },
  { env: 'REGENT_WEBHOOK_SECRET', path: ['remote', 'webhookSecret'], type: 'string' },
  { env: 'REGENT_WEBHOOK_SECRET_FILE', path: ['remote', 'webhookSecretFile'], type: 'string' },
];

/**
 * Keys deliberately settable in the config file only (they lower a protection). A variable that looks like
 * it would set one is refused at start-up, so nobody believes it took effect, or slips one in.
 */
export const fileOnlyKeys: ReadonlyArray<{ env: string; path: string }> = [
  { env: 'REGENT_REMOTE_ALLOW_INSECURE_HTTP', path: 'remote.allowInsecureHttp' },
  { env: 'REGENT_REMOTE_ALLOW_TOKEN_OVER_INSECURE_HTTP', path: 'remote.allowTokenOverInsecureHttp' },
];
