import { createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { AdminTokenIssuer } from '../domain/auth/admin-token-issuer.js';
import { AdminTokenVerifier } from '../domain/auth/admin-token-verifier.js';
import { isRole, ROLES, type Role } from '../domain/auth/principal.js';
import { InputError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { loadAdminTokenKey, loadAdminTokenPrivateKey } from '../keys/load-admin-token-key.js';
import { UsageError } from './usage-error.js';

export const TOKEN_USAGE = `usage: regent token --sub <subject> --role <${ROLES.join('|')}> [--name <name>] [--email <address>]
                    [--ttl <seconds>] [--dev] [--config <file>] [--private-key <pem file>]

Prints an admin API token (a JWT) on stdout, signed with the key Regent verifies admin tokens with:
the configured HMAC secret (auth.secret / auth.secretFile; with --dev, the secret generated in the
data directory), or, for RS/PS/ES, the private key given with --private-key. The lifetime defaults to
3600 s and is capped by auth.maxTokenLifetimeSeconds.
`;

export interface TokenCommandIo {
  stdout: (text: string) => void;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}

/** `regent token ...`: loads the config as `regent serve` does, mints a token, checks it verifies, prints it. */
export function runTokenCommand(args: readonly string[], io: TokenCommandIo): void {
  const values = parseTokenArgs(args);
  if (values.help) {
    io.stdout(TOKEN_USAGE);
    return;
  }
  const config = loadConfig({ file: values.config, env: io.env, overrides: values.dev ? { dev: true } : {} });
  const auth = config.auth;
  const algorithm = auth.algorithms[0]!;
  const keyOptions = { dataDir: resolve(config.dataDir), dev: config.dev, logger: io.logger };

  let signingKey: KeyObject;
  let verificationKey: KeyObject;
  if (algorithm.startsWith('HS')) {
    if (values['private-key']) throw new UsageError(`--private-key is for RS/PS/ES tokens; ${algorithm} tokens are signed with the configured secret`);
    signingKey = verificationKey = loadAdminTokenKey(auth, keyOptions).key;
  } else {
    if (!values['private-key']) throw new UsageError(`${algorithm} tokens need --private-key <pem file>`);
    signingKey = loadAdminTokenPrivateKey(values['private-key'], algorithm);
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
    sub: values.sub!,
    role: values.role as Role,
    name: values.name,
    email: values.email,
    ttlSeconds: values.ttl === undefined ? undefined : Number(values.ttl),
  });
  // The token must be one Regent accepts with this configuration; a mismatch is a bug here, not a token to hand out.
  AdminTokenVerifier.create({ ...common, algorithms: auth.algorithms, key: verificationKey, clockToleranceSeconds: auth.clockToleranceSeconds }).verify(issued.token);
  if (issued.capped) io.logger.warn({ ttlSeconds: issued.ttlSeconds }, 'the requested lifetime is over auth.maxTokenLifetimeSeconds; the token lives this long instead');
  io.stdout(`${issued.token}\n`);
}

function parseTokenArgs(args: readonly string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        sub: { type: 'string' },
        role: { type: 'string' },
        name: { type: 'string' },
        email: { type: 'string' },
        ttl: { type: 'string' },
        dev: { type: 'boolean' },
        config: { type: 'string' },
        'private-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return values;
  if (!values.sub) throw new UsageError('--sub <subject> is required');
  if (!values.role) throw new UsageError(`--role <${ROLES.join('|')}> is required`);
  if (!isRole(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}; got '${values.role}'`);
  if (values.ttl !== undefined && !/^[1-9]\d{0,9}$/.test(values.ttl)) throw new UsageError(`--ttl must be a whole number of seconds; got '${values.ttl}'`);
  return values;
}
