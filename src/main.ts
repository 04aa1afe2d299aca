import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { loadConfig } from './config/load-config.js';
import type { RegentConfig } from './config/schema.js';
import { ActivationPipeline } from './domain/activation/activation-pipeline.js';
import { BundleCatalog } from './domain/activation/bundle-catalog.js';
import { BundleBuilder } from './domain/bundles/bundle-builder.js';
import { BundleSigner } from './domain/bundles/bundle-signer.js';
import { BundleVerifier } from './domain/bundles/bundle-verifier.js';
import { verificationKeyFor } from './domain/bundles/signing-key.js';
import type { Logger } from './domain/logger.js';
import type { PolicyStore } from './domain/store/policy-store.js';
import { GitPolicyRepository } from './git/git-policy-repository.js';
import { seedFromDirectory } from './git/seed-from-directory.js';
import { createBundleHandler } from './http/bundles/bundle-handler.js';
import { LongPollWaiters } from './http/bundles/long-poll-waiters.js';
import { createApp } from './http/create-app.js';
import { createRegentServer } from './http/regent-server.js';
import { loadSigningKey, type LoadedSigningKey } from './keys/load-signing-key.js';
import { writeRestrictedCapabilities } from './opa/capabilities.js';
import { defaultOpaPath, OpaCli } from './opa/opa-cli.js';
import { OpaPolicyGate } from './opa/opa-policy-gate.js';
import { FileActivationStateStore } from './storage/file-activation-state-store.js';
import { FileSignatureCache } from './storage/file-signature-cache.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface RunningRegent {
  url: string;
  server: Server;
  store: PolicyStore;
  activation: ActivationPipeline;
  catalog: BundleCatalog;
  signingKey: LoadedSigningKey;
  /** Stops accepting work, answers held long polls, closes the store. */
  close(): Promise<void>;
}

/** The composition root: config → deps → listen. `main()` adds the logger and signal handling. */
export async function startRegent(config: Readonly<RegentConfig>, logger: Logger): Promise<RunningRegent> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const signingKey = loadSigningKey(config.signing, { dataDir, dev: config.dev, logger });

  const systemIdentity = { name: config.store.systemName, email: config.store.systemEmail };
  const store = await GitPolicyRepository.open({
    dir: join(dataDir, 'store.git'),
    branch: config.store.branch,
    systemIdentity,
    logger: logger.child({ component: 'store' }),
    watchIntervalMs: config.store.watchIntervalMs,
  });
  if (!(await store.head())) {
    const seedDir = resolve(config.store.seedDir);
    if (existsSync(seedDir)) {
      const seeded = await seedFromDirectory(store, seedDir, systemIdentity);
      logger.info({ seedDir, revision: seeded?.revision }, 'policy store seeded');
    } else {
      logger.warn({ seedDir }, 'policy store is empty and the seed directory does not exist');
    }
  }

  const opa = await OpaCli.create({ path: config.opa.path ?? defaultOpaPath(PROJECT_ROOT), timeoutMs: config.opa.timeoutMs, logger });
  const capabilitiesPath = await writeRestrictedCapabilities(opa, join(dataDir, 'opa'));
  const gate = OpaPolicyGate.create({ opa, capabilitiesPath, logger: logger.child({ component: 'gate' }), workDir: join(dataDir, 'tmp') });

  const signer = BundleSigner.create({ key: signingKey.key, scope: config.signing.scope, cache: FileSignatureCache.open(join(dataDir, 'cache', 'signatures.jsonl')) });
  const verifier = BundleVerifier.create([{ ...verificationKeyFor(signingKey.key), scope: config.signing.scope }]);
  const builder = BundleBuilder.create({
    signerFor: (keyId) => (keyId === signingKey.key.keyId ? signer : undefined),
    defaultKeyId: signingKey.key.keyId,
    verifier,
    limits: { maxFiles: config.bundles.maxFiles, maxFileBytes: config.bundles.maxFileBytes, maxBundleBytes: config.bundles.maxBundleBytes },
    logger: logger.child({ component: 'builder' }),
  });

  const catalog = BundleCatalog.create();
  const waiters = LongPollWaiters.create({ batchSize: config.bundles.releaseBatchSize, logger: logger.child({ component: 'long-poll' }) });
  catalog.onChange((changed) => waiters.release(changed));
  const activation = ActivationPipeline.create({
    store,
    gate,
    builder,
    publishers: [catalog],
    state: FileActivationStateStore.create(join(dataDir, 'state', 'activation.json')),
    logger: logger.child({ component: 'activation' }),
  });

  const app = createApp({ logger, activation, catalog, waiters, branch: config.store.branch, version: VERSION });
  const bundles = createBundleHandler({ catalog, waiters, longPollMaxSeconds: config.bundles.longPollMaxSeconds, logger });
  const server = createRegentServer({ bundles, app });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, dataDir, branch: config.store.branch, opa: opa.path, opaVersion: opa.version, keyId: signingKey.key.keyId, algorithm: signingKey.key.algorithm, keySource: signingKey.source }, 'regent listening');
  await activation.start();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      activation.stop();
      server.close();
      waiters.expireAll();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await new Promise<void>((done) => server.once('close', () => done()));
      clearTimeout(force);
      await activation.idle();
      await store.close();
    })();
    return closing;
  };
  return { url, server, store, activation, catalog, signingKey, close };
}

export function createLogger(level: string): pino.Logger {
  return pino({
    level,
    base: { service: 'regent' },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.privateKey', '*.secret', '*.token', 'signing.privateKey'], censor: '[redacted]' },
  });
}

/** `node dist/main.js [--dev] [--config file]`. */
export async function main(argv: readonly string[]): Promise<void> {
  const dev = argv.includes('--dev');
  const configIndex = argv.indexOf('--config');
  const file = configIndex >= 0 ? argv[configIndex + 1] : undefined;
  let config: Readonly<RegentConfig>;
  try {
    config = loadConfig({ file, overrides: dev ? { dev: true } : {} });
  } catch (error) {
    process.stderr.write(`regent: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  let regent: RunningRegent;
  try {
    regent = await startRegent(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'regent failed to start');
    process.exit(1);
  }
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    regent.close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2));
}
