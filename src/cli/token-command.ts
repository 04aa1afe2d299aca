import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { AdminTokenIssuer } from '../domain/auth/admin-token-issuer.js';
import { AdminTokenVerifier } from '../domain/auth/admin-token-verifier.js';
import { isRole, ROLES } from '../domain/auth/principal.js';
import { InputError } from '../domain/errors.js';
import { devAdminSecretPath, loadAdminTokenKey, loadAdminTokenPrivateKey } from '../keys/load-admin-token-key.js';
import type { CliIo } from './cli-io.js';
import type { TokenFlags } from './program.js';
import { stderrLogger } from './stderr-logger.js';
import { UsageError } from './usage-error.js';

/**
 * `regent token ...`: loads the config as `regent serve` does, mints a token, checks it verifies, prints
 * it (alone, on stdout). Loads no more than it needs (no build, no server code), so it answers at once.
 * Without `--dev`, a data directory's development secret is used when it exists and no admin key is
 * configured: such tokens are accepted only by a Regent in development mode on that directory.
 */
export function runTokenCommand(values: TokenFlags, io: CliIo): void {
  if (values.ttl !== undefined && !/^[1-9]\d{0,9}$/.test(values.ttl)) throw new UsageError(`--ttl must be a whole number of seconds; got '${values.ttl}'`);
  if (!isRole(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}; got '${values.role}'`);
  const logger = stderrLogger(io.stderr);
  const config = loadConfig({ file: values.config, env: io.env, overrides: values.dev ? { dev: true } : {} });
  const auth = config.auth;
  const algorithm = auth.algorithms[0]!;
  const dataDir = resolve(config.dataDir);
  const devSecretOnly = !config.dev && !auth.secret && !auth.secretFile && algorithm.startsWith('HS') && existsSync(devAdminSecretPath(dataDir));
  const keyOptions = { dataDir, dev: config.dev || devSecretOnly, logger };

  let signingKey: KeyObject;
  let verificationKey: KeyObject;
  if (algorithm.startsWith('HS')) {
    if (values.privateKey) throw new UsageError(`--private-key is for RS/PS/ES tokens; ${algorithm} tokens are signed with the configured secret`);
    signingKey = verificationKey = loadAdminTokenKey(auth, keyOptions).key;
  } else {
    if (!values.privateKey) throw new UsageError(`${algorithm} tokens need --private-key <pem file>`);
    signingKey = loadAdminTokenPrivateKey(values.privateKey, algorithm);
    verificationKey = createPublicKey(signingKey);
    if (auth.publicKeyFile) {
      const configured = loadAdminTokenKey(auth, keyOptions).key;
      if (!configured.export({ type: 'spki', format: 'der' }).equals(verificationKey.export({ type: 'spki', format: 'der' }))) {
        throw new InputError('invalid_auth_key', `the private key does not match auth.publicKeyFile '${auth.publicKeyFile}': Regent would refuse its tokens`, { field: 'privateKey' });
      }
    }
  }

  const common = { keyId: auth.keyId, issuer: auth.issuer, audience: auth.audience, roleClaim: auth.roleClaim, maxTokenLifetimeSeconds: auth.maxTokenLifetimeSeconds };
  const issued = AdminTokenIssuer.create({ ...common, algorithm, key: signingKey }).issue({
    sub: values.sub,
    role: values.role,
    name: values.name,
    email: values.email,
    ttlSeconds: values.ttl === undefined ? undefined : Number(values.ttl),
  });
  // The token must be one Regent accepts with this configuration; a mismatch is a bug here, not a token to hand out.
  AdminTokenVerifier.create({ ...common, algorithms: auth.algorithms, key: verificationKey, clockToleranceSeconds: auth.clockToleranceSeconds }).verify(issued.token);
  if (issued.capped) logger.warn({ ttlSeconds: issued.ttlSeconds }, 'the requested lifetime is over auth.maxTokenLifetimeSeconds; the token lives this long instead');
  io.stdout(`${issued.token}\n`);
}
