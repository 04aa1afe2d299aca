import { join } from 'node:path';
import type { RegentConfig } from '../config/schema.js';
import { FleetAwarePolicyGate } from '../domain/activation/fleet-aware-policy-gate.js';
import { FleetGateTarget } from '../domain/activation/fleet-gate-target.js';
import { MemoizedPolicyGate } from '../domain/candidates/memoized-policy-gate.js';
import { ShippedFormGate } from '../domain/bundles/gate-files.js';
import type { PolicyGate } from '../domain/candidates/policy-gate.js';
import { BundleBuilder } from '../domain/bundles/bundle-builder.js';
import { CandidateCheck } from '../domain/candidates/candidate-check.js';
import { SpecCompiler } from '../domain/specs/spec-compiler.js';
import { BundlePackager } from '../domain/bundles/bundle-packager.js';
import { BundleSigner } from '../domain/bundles/bundle-signer.js';
import { BundleVerifier } from '../domain/bundles/bundle-verifier.js';
import { CanonicalFormMemo } from '../domain/bundles/canonical-form-memo.js';
import { DeltaBuilder } from '../domain/bundles/delta/delta-builder.js';
import { verificationKeyFor } from '../domain/bundles/signing-key.js';
import { InputError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { LoadedSigningKey } from '../keys/load-signing-key.js';
import { OpaCapabilities } from '../opa/capabilities.js';
import { defaultOpaPath, OpaCli } from '../opa/opa-cli.js';
import type { OpaRunnerOptions } from '../opa/opa-runner.js';
import { OpaPolicyGate } from '../opa/opa-policy-gate.js';
import { FileSignatureCache } from '../storage/file-signature-cache.js';

export interface BuildPipeline {
  opa: OpaCli;
  /** OPA capabilities without `http.send`, `net.lookup_ip_addr`, `opa.runtime`. */
  capabilitiesPath: string;
  gate: PolicyGate;
  /** The OPA release the gate checks against: the fleet's oldest (floor and live agents), for `/status` → `gate`. */
  gateTarget: FleetGateTarget;
  builder: BundleBuilder;
  /** Undefined when `bundles.deltas` is off. */
  deltas?: DeltaBuilder;
  /** The one check of every candidate tree: compile steps, the gate and the builder's check. */
  check: CandidateCheck;
  /** The compile step of role specs (`*.policy.yaml`). */
  specs: SpecCompiler;
}

export interface BuildPipelineDeps {
  dataDir: string;
  signingKey: LoadedSigningKey;
  projectRoot: string;
  logger: Logger;
  /** `labels.version` of the live agents (the fleet registry), for the gate's target; none when absent or `gate.fleetReports` is off. */
  liveAgentVersions?: () => ReadonlyMap<string, number>;
}

/**
 * What turns a tree into served bundles, shared by every bundle set: real OPA as the gate, checking
 * against the capabilities of the fleet's oldest OPA (`gate.minAgentVersion` and the versions live
 * agents report; verdicts remembered per candidate tree and that version, so an API write runs OPA
 * once), and the builder with its signer, its signature cache and the verifier every build is checked
 * with before it is published.
 */
export async function createBuildPipeline(config: Readonly<RegentConfig>, deps: BuildPipelineDeps): Promise<BuildPipeline> {
  const { dataDir, signingKey, logger } = deps;
  const opa = await OpaCli.create(opaRunnerOptions(config.opa, config.opa.path ?? defaultOpaPath(deps.projectRoot), logger.child({ component: 'opa' })));
  const capabilities = await OpaCapabilities.create(opa, join(dataDir, 'opa'));
  const capabilitiesPath = capabilities.current.path;
  const floor = config.gate.minAgentVersion;
  if (floor !== undefined && !FleetGateTarget.knows(capabilities.known, floor)) {
    throw new InputError('invalid_config', `invalid configuration at 'gate.minAgentVersion': OPA ${opa.version} (${opa.path}) has no capabilities for '${floor}'; name an OPA release (${capabilities.known[0] ?? '?'} to ${capabilities.known.at(-1) ?? '?'}, as 'opa capabilities' lists them)`, { field: 'gate.minAgentVersion' });
  }
  const gateTarget = FleetGateTarget.create({ floor, current: opa.version, known: capabilities.known, liveVersions: (config.gate.fleetReports ? deps.liveAgentVersions : undefined) ?? (() => new Map()) });
  const opaGate = OpaPolicyGate.create({ opa, capabilitiesPath, capabilities, logger: logger.child({ component: 'gate' }), workDir: join(dataDir, 'tmp'), budgetMs: config.opa.timeoutMs });
  // OPA judges the data agents receive (canonical JSON, YAML converted by Regent) against the capabilities of
  // the fleet's oldest OPA, and remembers verdicts.
  const gate = new ShippedFormGate(FleetAwarePolicyGate.create(new MemoizedPolicyGate(opaGate), () => gateTarget.target()));

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
  const specs = SpecCompiler.create({ maxSpecBytes: config.bundles.maxSpecBytes });
  const check = CandidateCheck.create({ gate, builder, compilers: [specs] });
  const deltas = config.bundles.deltas ? DeltaBuilder.create({ packager, signerFor, logger: logger.child({ component: 'deltas' }) }) : undefined;
  return { opa, capabilitiesPath, gate, gateTarget, builder, check, specs, deltas };
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
