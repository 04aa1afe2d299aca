/**
 * Build benchmark: Regent's snapshot + cold build/sign/self-verify of a 1,000-module, ~10 MB-data tree
 * read through a real GitPolicyRepository, a warm rebuild after a one-file change, `opa build` with
 * signing on the same files, and (for information) the OPA gate. Run by hand:
 *
 *   node --import tsx bench/build-bench.ts [--modules 1000] [--data-mb 10] [--runs 3]
 */
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import { pino } from 'pino';
import { configSchema } from '../src/config/schema.js';
import { BundleBuilder, type BuiltBundle } from '../src/domain/bundles/bundle-builder.js';
import { BundlePackager } from '../src/domain/bundles/bundle-packager.js';
import { BundleSigner } from '../src/domain/bundles/bundle-signer.js';
import { DeltaBuilder } from '../src/domain/bundles/delta/delta-builder.js';
import { CanonicalFormMemo } from '../src/domain/bundles/canonical-form-memo.js';
import { BundleVerifier } from '../src/domain/bundles/bundle-verifier.js';
import { policyFileKind, preparePolicyFile } from '../src/domain/bundles/policy-file.js';
import { generateSigningKey, verificationKeyFor } from '../src/domain/bundles/signing-key.js';
import type { PolicyStore, Revision, TreeEntry } from '../src/domain/store/policy-store.js';
import { GitPolicyRepository } from '../src/git/git-policy-repository.js';
import { seedFromDirectory } from '../src/git/seed-from-directory.js';
import { writeRestrictedCapabilities } from '../src/opa/capabilities.js';
import { realOpaCli } from '../test/helpers/opa-path.js';
import { OpaPolicyGate } from '../src/opa/opa-policy-gate.js';
import { generateRepo, moduleText, serviceId } from './lib/generate-repo.js';
import { arg, fmtMs, median, onCleanup, opaBinary, printTable, runBenchmark, runOrFail, SetupError, workDir } from './lib/harness.js';

const MODULES = Number(arg('modules', '1000'));
const DATA_MB = Number(arg('data-mb', '10'));
const RUNS = Number(arg('runs', '3'));

const logger = pino({ level: 'silent' });
const identity = { name: 'Bench', email: 'bench@example.com' };

interface Snapshot {
  entries: TreeEntry[];
  contents: Map<string, Buffer>;
  listTreeMs: number;
  readBlobsMs: number;
}

/** What the activation pipeline does first: list the tree, read every policy/data/test blob. */
async function snapshot(store: PolicyStore, revision: Revision): Promise<Snapshot> {
  let mark = performance.now();
  const entries = await store.listTree(revision);
  const listTreeMs = performance.now() - mark;
  mark = performance.now();
  const policyEntries = entries.filter((entry) => policyFileKind(entry.path) !== 'other' && entry.kind !== 'submodule');
  const contents = await store.readBlobs([...new Set(policyEntries.map((entry) => entry.blobId))]);
  return { entries, contents, listTreeMs, readBlobsMs: performance.now() - mark };
}

function readerOf(store: PolicyStore, contents: Map<string, Buffer>) {
  return async (ids: readonly string[]): Promise<Map<string, Buffer>> => {
    const missing = ids.filter((id) => !contents.has(id));
    if (missing.length > 0) for (const [id, bytes] of await store.readBlobs(missing)) contents.set(id, bytes);
    return contents;
  };
}

runBenchmark('build-bench: Regent build vs opa build', async () => {
  const opaPath = opaBinary();
  const work = workDir('build');
  const repoDir = join(work, 'repo');
  const generated = generateRepo(repoDir, { modules: MODULES, dataBytes: DATA_MB * 1024 * 1024, testEvery: 10 });
  const dataBytes = generated.dataFiles.reduce((sum, file) => sum + file.bytes, 0);
  console.log(`tree: ${generated.modules} modules (${(generated.regoBytes / 1024).toFixed(0)} KiB Rego incl. ${generated.tests} test files), `
    + `${generated.dataFiles.length} data.json files (${(dataBytes / 1024 / 1024).toFixed(1)} MiB), regent.yaml with one bundle (roots: [svc])\n`);

  // --- Regent: store, key, builder as src/main.ts wires them ---
  const store = await GitPolicyRepository.open({ dir: join(work, 'store.git'), branch: 'main', systemIdentity: identity, logger, watchIntervalMs: 1000 });
  onCleanup(() => store.close());
  let mark = performance.now();
  const seeded = await seedFromDirectory(store, repoDir, identity);
  if (!seeded) throw new SetupError('seeding the store wrote nothing');
  const seedMs = performance.now() - mark;

  const generatedKey = generateSigningKey('bench', 'RS256');
  const limits = configSchema.parse({}).bundles;
  let packager!: BundlePackager;
  const signer = BundleSigner.create({ key: generatedKey.key });
  const signerFor = (keyId: string): BundleSigner | undefined => (keyId === generatedKey.key.keyId ? signer : undefined);
  const newBuilder = (): BundleBuilder => {
    const canonicalForms = new CanonicalFormMemo();
    const verifier = BundleVerifier.create([verificationKeyFor(generatedKey.key)], { canonicalForms });
    packager = BundlePackager.create({ verifier, canonicalForms, maxBundleBytes: limits.maxBundleBytes, logger });
    return BundleBuilder.create({
      signerFor,
      defaultKeyId: generatedKey.key.keyId,
      verifier,
      canonicalForms,
      packager,
      limits: { maxFiles: limits.maxFiles, maxFileBytes: limits.maxFileBytes, maxBundleBytes: limits.maxBundleBytes },
      logger,
    });
  };

  // (a) cold: snapshot, then build + sign + self-verify with a fresh builder (empty per-blob cache)
  // Longest event-loop stall during builds: in the server, nothing else (304s, long polls) runs meanwhile.
  const stalls = { cold: 0, warm: 0, warmData: 0, delta: 0 };
  // Returns the body's result, the longest stall and the body's own duration (the wait after it, for the
  // histogram's last sample, is not counted: earlier runs of this benchmark counted it, adding 30 ms).
  const stallOf = async <T>(body: () => Promise<T>): Promise<[T, number, number]> => {
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    try {
      const started = performance.now();
      const result = await body();
      const ms = performance.now() - started;
      // The histogram records a stall only when its timer next fires: let it fire once more.
      await new Promise((resolveTick) => setTimeout(resolveTick, 30));
      return [result, histogram.max / 1e6, ms];
    } finally {
      histogram.disable();
    }
  };
  // (c) opa build --bundle with RS256 signing on the same files (no tests, no regent.yaml), run in
  // turn with Regent's cold builds so the ratio is taken under the same load.
  const opaSrc = join(work, 'opa-src');
  cpSync(join(repoDir, 'svc'), join(opaSrc, 'svc'), { recursive: true, filter: (source) => !source.endsWith('_test.rego') });
  const keyFile = join(work, 'private.pem');
  writeFileSync(keyFile, generatedKey.privateKeyPem, { mode: 0o600 });
  const opaRuns: number[] = [];
  let opaSize = 0;
  let opaTarball = Buffer.alloc(0);
  const cold: Array<{ listTree: number; readBlobs: number; build: number; segments: number }> = [];
  let built: BuiltBundle[] = [];
  let builder = newBuilder();
  let snap: Snapshot | undefined;
  for (let run = 0; run < RUNS; run++) {
    snap = await snapshot(store, seeded.revision);
    builder = newBuilder();
    const coldSnap = snap;
    let stall: number;
    let buildMs: number;
    [built, stall, buildMs] = await stallOf(() => builder.build(seeded.revision, coldSnap.entries, readerOf(store, coldSnap.contents)));
    stalls.cold = Math.max(stalls.cold, stall);
    cold.push({ listTree: snap.listTreeMs, readBlobs: snap.readBlobsMs, build: buildMs, segments: packager.stats.segments });

    const out = join(work, `opa-out-${run}.tar.gz`);
    const result = await runOrFail(opaPath, ['build', '--bundle', opaSrc, '--signing-key', keyFile, '--signing-alg', 'RS256', '-o', out], { cwd: work, timeoutMs: 600_000 });
    opaRuns.push(result.ms);
    opaSize = statSync(out).size;
    opaTarball = readFileSync(out);
    rmSync(out);
  }
  const bundle = built[0];
  if (!bundle || built.length !== 1) throw new SetupError(`expected one bundle, got ${built.length}`);

  // Where the cold build goes (separate passes over the same input, for information).
  const wanted = snap!.entries.filter((entry) => ['module', 'data'].includes(policyFileKind(entry.path)));
  const prepareRuns: number[] = [];
  const dataPrepareRuns: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let dataMs = 0;
    mark = performance.now();
    for (const entry of wanted) {
      const started = performance.now();
      await preparePolicyFile(entry.path, snap!.contents.get(entry.blobId)!);
      if (policyFileKind(entry.path) === 'data') dataMs += performance.now() - started;
    }
    prepareRuns.push(performance.now() - mark);
    dataPrepareRuns.push(dataMs);
  }
  const verifier = BundleVerifier.create([verificationKeyFor(generatedKey.key)]);
  const verifyRuns: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    mark = performance.now();
    await verifier.verifyTarball(bundle.tarball, { keyId: 'bench' });
    verifyRuns.push(performance.now() - mark);
  }

  // (b) warm: commit a one-module change, snapshot again, rebuild with the same builder instance.
  const warm: Array<{ commit: number; listTree: number; readBlobs: number; build: number; compressed: number }> = [];
  let head = seeded.revision;
  for (let run = 0; run < RUNS; run++) {
    const target = Math.max(1, Math.floor(MODULES / 2) + run);
    mark = performance.now();
    const committed = await store.commit({
      changes: [{ op: 'put', path: `svc/${serviceId(target)}/policy.rego`, content: Buffer.from(moduleText(target, run + 1)) }],
      message: `bench: change ${serviceId(target)}`, author: identity, expectedHead: head,
    });
    const commitMs = performance.now() - mark;
    head = committed.revision;
    const warmSnap = await snapshot(store, head);
    const [rebuilt, stall, buildMs] = await stallOf(() => builder.build(head, warmSnap.entries, readerOf(store, warmSnap.contents)));
    stalls.warm = Math.max(stalls.warm, stall);
    warm.push({ commit: commitMs, listTree: warmSnap.listTreeMs, readBlobs: warmSnap.readBlobsMs, build: buildMs, compressed: packager.stats.compressed });
    if (rebuilt[0]?.etag === bundle.etag) throw new Error('a changed module did not change the bundle ETag');
    built = rebuilt;
  }
  // ... and a one-data-file change (the largest data.json), for information.
  const biggest = [...generated.dataFiles].sort((a, b) => b.bytes - a.bytes)[0]!;
  const biggestText = readFileSync(join(repoDir, biggest.path), 'utf8');
  const warmData: Array<{ commit: number; snapshot: number; build: number }> = [];
  const deltas = DeltaBuilder.create({ packager, signerFor, logger });
  const deltaRuns: Array<{ ms: number; bytes: number; snapshotBytes: number }> = [];
  let previous = built[0]!;
  for (let run = 0; run < RUNS; run++) {
    mark = performance.now();
    const committed = await store.commit({
      changes: [{ op: 'put', path: biggest.path, content: Buffer.from(biggestText.replace('{\n', `{\n  "bench-${run}": {"active": true},\n`)) }],
      message: `bench: data change ${run}`, author: identity, expectedHead: head,
    });
    const commitMs = performance.now() - mark;
    head = committed.revision;
    const warmSnap = await snapshot(store, head);
    const [dataBuilt, stall, buildMs] = await stallOf(() => builder.build(head, warmSnap.entries, readerOf(store, warmSnap.contents)));
    stalls.warmData = Math.max(stalls.warmData, stall);
    warmData.push({ commit: commitMs, snapshot: warmSnap.listTreeMs + warmSnap.readBlobsMs, build: buildMs });
    // The delta from the revision before (one key added to the largest data file), as the catalog builds it at publish.
    const next = dataBuilt[0]!;
    const [delta, deltaStall, deltaMs] = await stallOf(() => deltas.build(previous, next));
    stalls.delta = Math.max(stalls.delta, deltaStall);
    if (!delta) throw new Error('a data-only change gave no delta');
    deltaRuns.push({ ms: deltaMs, bytes: delta.tarball.length, snapshotBytes: next.tarball.length });
    previous = next;
  }

  // (d) the OPA gate on the seed revision (opa check with restricted capabilities + opa test), for information.
  const opa = await realOpaCli(logger, { timeoutMs: 600_000, memoryLimitMiB: 8192 }, opaPath);
  mkdirSync(join(work, 'opa'), { recursive: true });
  const capabilitiesPath = await writeRestrictedCapabilities(opa, join(work, 'opa'));
  const gate = OpaPolicyGate.create({ opa, capabilitiesPath, logger, workDir: join(work, 'gate-tmp') });
  const gateFiles = snap!.entries
    .filter((entry) => policyFileKind(entry.path) !== 'other' && entry.kind !== 'submodule')
    .map((entry) => ({ path: entry.path, content: snap!.contents.get(entry.blobId)! }));
  const gateRuns: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    mark = performance.now();
    const report = await gate.check({ revision: seeded.revision, files: gateFiles });
    gateRuns.push(performance.now() - mark);
    if (!report.ok) throw new SetupError(`the generated tree failed the gate: ${JSON.stringify(report.problems.slice(0, 3))}`);
    if (run === 0) console.log(`gate: ok, tests passed ${report.tests.passed}, failed ${report.tests.failed}, errored ${report.tests.errored}\n`);
  }

  const m = (values: number[]): number => median(values);
  const coldBuild = m(cold.map((c) => c.build));
  const coldSnapshot = m(cold.map((c) => c.listTree + c.readBlobs));
  const opaBuild = m(opaRuns);
  const warmTotal = m(warm.map((w) => w.commit + w.listTree + w.readBlobs + w.build));
  console.log(`median of ${RUNS} runs each; seed commit of the whole tree (seedFromDirectory) took ${fmtMs(seedMs)}\n`);
  // Compression levels for the same tar (information: how the level was chosen, see docs/adr/012).
  const tar = gunzipSync(bundle.tarball);
  const levels = [4, 5, 6, 7, 9].map((level) => {
    const started = performance.now();
    const size = gzipSync(tar, { level }).length;
    return [`zlib level ${level}, whole tar in one pass`, `${(size / 1024).toFixed(0)} KiB (${(size / opaSize).toFixed(3)}x opa build)`, fmtMs(performance.now() - started)];
  });
  const oneMember = inflateRawSync(bundle.tarball.subarray(10, bundle.tarball.length - 8)).equals(tar);
  const opaMembers = inflateRawSync(opaTarball.subarray(10, opaTarball.length - 8)).equals(gunzipSync(opaTarball));

  printTable(['step', 'median', 'runs'], [
    ['(a) snapshot: listTree', fmtMs(m(cold.map((c) => c.listTree))), cold.map((c) => fmtMs(c.listTree)).join(', ')],
    ['(a) snapshot: readBlobs (all policy files)', fmtMs(m(cold.map((c) => c.readBlobs))), cold.map((c) => fmtMs(c.readBlobs)).join(', ')],
    ['(a) cold build + sign + self-verify', fmtMs(coldBuild), cold.map((c) => fmtMs(c.build)).join(', ')],
    ['    of which: prepare files (all)', fmtMs(m(prepareRuns)), prepareRuns.map(fmtMs).join(', ')],
    ['    of which: prepare data.json files', fmtMs(m(dataPrepareRuns)), dataPrepareRuns.map(fmtMs).join(', ')],
    ['    info: verifyTarball of the whole bundle (not run by builds)', fmtMs(m(verifyRuns)), verifyRuns.map(fmtMs).join(', ')],
    ['(b) one-module change: store.commit', fmtMs(m(warm.map((w) => w.commit))), warm.map((w) => fmtMs(w.commit)).join(', ')],
    ['(b) one-module change: snapshot', fmtMs(m(warm.map((w) => w.listTree + w.readBlobs))), warm.map((w) => fmtMs(w.listTree + w.readBlobs)).join(', ')],
    ['(b) one-module change: warm rebuild', fmtMs(m(warm.map((w) => w.build))), warm.map((w) => fmtMs(w.build)).join(', ')],
    ['(b) one-module change: commit+snapshot+build', fmtMs(warmTotal), warm.map((w) => fmtMs(w.commit + w.listTree + w.readBlobs + w.build)).join(', ')],
    [`(b') one-data-file change (${(biggest.bytes / 1024 / 1024).toFixed(1)} MiB): commit`, fmtMs(m(warmData.map((w) => w.commit))), warmData.map((w) => fmtMs(w.commit)).join(', ')],
    [`(b') one-data-file change: snapshot`, fmtMs(m(warmData.map((w) => w.snapshot))), warmData.map((w) => fmtMs(w.snapshot)).join(', ')],
    [`(b') one-data-file change: warm rebuild`, fmtMs(m(warmData.map((w) => w.build))), warmData.map((w) => fmtMs(w.build)).join(', ')],
    [`(b') delta bundle from the revision before (at publish)`, fmtMs(m(deltaRuns.map((d) => d.ms))), deltaRuns.map((d) => fmtMs(d.ms)).join(', ')],
    ['(c) opa build --bundle, RS256 signing', fmtMs(opaBuild), opaRuns.map(fmtMs).join(', ')],
    ['(d) OPA gate (opa test --capabilities on the tree), info', fmtMs(m(gateRuns)), gateRuns.map(fmtMs).join(', ')],
  ]);
  printTable(['figure', 'value'], [
    ['bundle size Regent / opa build', `${(bundle.tarball.length / 1024).toFixed(0)} KiB / ${(opaSize / 1024).toFixed(0)} KiB = ${(bundle.tarball.length / opaSize).toFixed(3)}x (${bundle.fileCount} files; one gzip member: ${oneMember ? 'yes' : 'NO'}, opa build's: ${opaMembers ? 'yes' : 'no'})`],
    ['segments in the stream / compressed by a one-module rebuild', `${cold[0]!.segments} / ${warm.map((w) => w.compressed).join(', ')}`],
    ['delta after a one-key data change / the snapshot', `${(m(deltaRuns.map((d) => d.bytes)) / 1024).toFixed(1)} KiB / ${(m(deltaRuns.map((d) => d.snapshotBytes)) / 1024).toFixed(0)} KiB`],
    ['ratio opa build / Regent cold build (medians)', `${(opaBuild / coldBuild).toFixed(2)}x`],
    ['ratio opa build / Regent cold build, run by run', cold.map((c, i) => `${(opaRuns[i]! / c.build).toFixed(2)}x`).join(', ')],
    ['ratio opa build / Regent cold snapshot+build', `${(opaBuild / (coldBuild + coldSnapshot)).toFixed(2)}x`],
    ['one-module change, warm rebuild only', fmtMs(m(warm.map((w) => w.build)))],
    ['one-module change, commit+snapshot+rebuild', fmtMs(warmTotal)],
    ['longest event-loop stall: cold / one-module / one-data-file build / delta', `${fmtMs(stalls.cold)} / ${fmtMs(stalls.warm)} / ${fmtMs(stalls.warmData)} / ${fmtMs(stalls.delta)}`],
    ['cold activation estimate: snapshot + max(gate, build)', fmtMs(coldSnapshot + Math.max(m(gateRuns), coldBuild))],
  ]);
  printTable(['compression of the same tar (information)', 'size', 'time (one thread, on the event loop)'], levels);
});
