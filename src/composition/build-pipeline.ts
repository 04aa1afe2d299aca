import { join } from 'node:path';
import type { RegentConfig } from '../config/schema.js';
import { MemoizedPolicyGate } from '../domain/activation/memoized-policy-gate.js';
import type { PolicyGate } from '../domain/activation/policy-gate.js';
import { BundleBuilder } from '../domain/bundles/bundle-builder.js';
import { BundlePackager } from '../domain/bundles/bundle-packager.js';
import { BundleSigner } from '../domain/bundles/bundle-signer.js';
import { BundleVerifier } from '../domain/bundles/bundle-verifier.js';
import { CanonicalFormMemo } from '../domain/bundles/canonical-form-memo.js';
import { DeltaBuilder } from '../domain/bundles/delta/delta-builder.js';
import { verificationKeyFor } from '../domain/bundles/signing-key.js';
import type { Logger } from '../domain/logger.js';
import type { LoadedSigningKey } from '../keys/load-signing-key.js';
import { writeRestrictedCapabilities } from '../opa/capabilities.js';
import { defaultOpaPath, OpaCli } from '../opa/opa-cli.js';
import type { OpaRunnerOptions } from '../opa/opa-runner.js';
import { OpaPolicyGate } from '../opa/opa-policy-gate.js';
import { FileSignatureCache } from '../storage/file-signature-cache.js';

export interface BuildPipeline {
  opa: OpaCli;
  /** OPA capabilities without `http.send`, `net.lookup_ip_addr`, `opa.runtime`. */
  capabilitiesPath: string;
  gate: PolicyGate;
  builder: BundleBuilder;
  /** Undefined when `bundles.deltas` is off. */
  deltas?: DeltaBuilder;
}

/**
 * What turns a tree into served bundles, shared by every bundle set: real OPA as the gate (verdicts
 * remembered per candidate tree, so an API write runs OPA once), and the builder with its signer, its
 * signature cache and the verifier every build is checked with before it is published.
 */
export async function createBuildPipeline(config: Readonly<RegentConfig>, deps: { dataDir: string; signingKey: LoadedSigningKey; projectRoot: string; logger: Logger }): Promise<BuildPipeline> {
  const { dataDir, signingKey, logger } = deps;
  const opa = await OpaCli.create(opaRunnerOptions(config.opa, config.opa.path ?? defaultOpaPath(deps.projectRoot), logger.child({ component: 'opa' })));
  const capabilitiesPath = await writeRestrictedCapabilities(opa, join(dataDir, 'opa'));
  const gate = new MemoizedPolicyGate(OpaPolicyGate.create({ opa, capabilitiesPath, logger: logger.child({ component: 'gate' }), workDir: join(dataDir, 'tmp'), budgetMs: config.opa.timeoutMs }));

  const signer = BundleSigner.create({ key: signingKey.key, scope: config.signing.scope, cache: FileSignatureCache.open(join(dataDir, 'cache', 'signatures.jsonl')) });
  const canonicalForms = new CanonicalFormMemo();
  const verifier = BundleVerifier.create([{ ...verificationKeyFor(signingKey.key), scope: config.signing.scope }], { canonicalForms });
  const signerFor = (keyId: string): BundleSigner | undefined => (keyId === signingKey.key.keyId ? signer : undefined);
  const packager = BundlePackager.create({ verifier, canonicalForms, maxBundleBytes: config.bundles.maxBundleBytes, logger: logger.child({ component: 'builder' }) });
  const builder = BundleBuilder.create({
    signerFor,
    defaultKeyId: signingKey.key.keyId,
    verifier,
    canonicalForms,
    packager,
    reservedNames: new Set(config.environments.map((environment) => environment.name)),
    limits: { maxFiles: config.bundles.maxFiles, maxFileBytes: config.bundles.maxFileBytes, maxBundleBytes: config.bundles.maxBundleBytes },
    logger: logger.child({ component: 'builder' }),
  });
  const deltas = config.bundles.deltas ? DeltaBuilder.create({ packager, signerFor, logger: logger.child({ component: 'deltas' }) }) : undefined;
  return { opa, capabilitiesPath, gate, builder, deltas };
}

/** The runner's limits from `opa.*`: the gate's budget for activations, writes and background work. */
export function opaRunnerOptions(opa: RegentConfig['opa'], path: string, logger: Logger): OpaRunnerOptions {
  return {
    path,
    maxConcurrency: opa.maxConcurrency,
    maxQueued: opa.maxQueued,
    memoryLimitBytes: opa.memoryLimitMiB * 1024 * 1024,
    maxOutputBytes: opa.maxOutputBytes,
    budgetsMs: { activation: opa.timeoutMs, write: opa.timeoutMs, interactive: opa.evaluateTimeoutMs, background: opa.timeoutMs },
    logger,
  };
}
