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
  { env: 'REGENT_AUTH_SECRET', path: ['auth', 'secret'], type: 'string' },
  { env: 'REGENT_AUTH_SECRET_FILE', path: ['auth', 'secretFile'], type: 'string' },
  { env: 'REGENT_AUTH_PUBLIC_KEY_FILE', path: ['auth', 'publicKeyFile'], type: 'string' },
  { env: 'REGENT_AUTH_ISSUER', path: ['auth', 'issuer'], type: 'string' },
  { env: 'REGENT_AUTH_AUDIENCE', path: ['auth', 'audience'], type: 'string' },
  { env: 'REGENT_AUTH_ROLE_CLAIM', path: ['auth', 'roleClaim'], type: 'string' },
  { env: 'REGENT_LONG_POLL_MAX_SECONDS', path: ['bundles', 'longPollMaxSeconds'], type: 'number' },
  { env: 'REGENT_RELEASE_BATCH_SIZE', path: ['bundles', 'releaseBatchSize'], type: 'number' },
];
