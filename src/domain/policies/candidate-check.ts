import type { GateProblem, PolicyGate } from '../activation/policy-gate.js';
import type { BlobReader, BuiltBundle, BundleBuilder } from '../bundles/bundle-builder.js';
import { policyFileKind } from '../bundles/policy-file.js';
import { BuildError } from '../errors.js';
import type { Revision, TreeEntry } from '../store/policy-store.js';
import type { WorkPriority } from '../work-priority.js';
import { rankFindings } from './candidate-findings.js';

export interface CandidateCheckInput {
  /** The revision the bundles' manifests name. */
  revision: Revision;
  entries: readonly TreeEntry[];
  readBlobs: BlobReader;
  /** Who waits for the verdict: orders the OPA work. */
  priority: WorkPriority;
}

export interface CandidateCheckResult {
  ok: boolean;
  /** The builder's refusal first (the root cause), then OPA's findings. */
  problems: GateProblem[];
  tests: { passed: number; failed: number; errored: number };
  /** The signed, self-verified bundles, when the tree passed. */
  bundles: BuiltBundle[];
}

/**
 * The candidate check: real OPA (check against the restricted capabilities, and the Rego tests) and the
 * bundle builder, at once, on one tree. Resolves with a verdict (the builder's and OPA's findings, ranked
 * by {@link rankFindings}); throws when there is none: OPA gave no answer (`gate_unavailable`,
 * `opa_busy`, ...) and the builder alone did not refuse the tree.
 */
export async function checkCandidate(deps: { gate: PolicyGate; builder: BundleBuilder }, input: CandidateCheckInput): Promise<CandidateCheckResult> {
  const policyEntries = input.entries.filter((entry) => policyFileKind(entry.path) !== 'other' && entry.kind !== 'submodule');
  const contents = await input.readBlobs([...new Set(policyEntries.map((entry) => entry.blobId))]);
  const files = policyEntries.map((entry) => ({ path: entry.path, content: contents.get(entry.blobId)! }));
  const [gate, build] = await Promise.allSettled([
    deps.gate.check({ revision: input.revision, files, priority: input.priority }),
    deps.builder.build(input.revision, input.entries, input.readBlobs),
  ]);
  const refusal = build.status === 'rejected' && build.reason instanceof BuildError ? build.reason : undefined;
  if (gate.status === 'rejected' && !refusal) throw gate.reason;
  if (build.status === 'rejected' && !refusal) throw build.reason;
  const problems = rankFindings(refusal, gate.status === 'fulfilled' ? gate.value.problems : []);
  return {
    ok: problems.length === 0,
    problems,
    tests: gate.status === 'fulfilled' ? gate.value.tests : { passed: 0, failed: 0, errored: 0 },
    bundles: build.status === 'fulfilled' ? build.value : [],
  };
}
