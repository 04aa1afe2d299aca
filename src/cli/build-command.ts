import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../config/load-config.js';
import type { BlobReader } from '../domain/bundles/bundle-builder.js';
import { CandidateCheckUnavailable } from '../domain/candidates/candidate-check.js';
import type { TreeEntry } from '../domain/store/policy-store.js';
import { gitDirOf, openRevisionTree } from '../git/revision-tree.js';
import { loadSigningKey } from '../keys/load-signing-key.js';
import { readDirectoryTree } from '../storage/directory-tree.js';
import { CommandFailure, formatBytes, formatTable, printJson, Progress, type CliIo } from './cli-io.js';
import { formatFinding } from './error-report.js';
import type { BuildFlags } from './program.js';
import { stderrLogger } from './stderr-logger.js';

interface Snapshot {
  /** What the manifests name as `revision`. */
  revision: string;
  /** Where it came from, for messages. */
  source: string;
  entries: TreeEntry[];
  readBlobs: BlobReader;
  close(): Promise<void>;
}

/**
 * `regent build <dir|revision> -o <dir>`: the bundles Regent would serve for a directory or a revision,
 * built offline by the same pipeline as a running Regent's (real OPA through the runner: check against
 * the restricted capabilities and the Rego tests; the bundle builder with its signer and self-check).
 * Nothing is written unless every check passes; exit 1 with the findings otherwise.
 */
export async function runBuild(source: string, flags: BuildFlags, io: CliIo): Promise<void> {
  const progress = new Progress(io, flags.quiet === true);
  const logger = stderrLogger(io.stderr);
  const signing: Record<string, string> = {};
  if (flags.signingKey) signing.privateKeyFile = flags.signingKey;
  if (flags.keyId) signing.keyId = flags.keyId;
  if (flags.signingAlg) signing.algorithm = flags.signingAlg;
  const config = loadConfig({ file: flags.config, env: io.env, overrides: { dev: false, signing } });
  const workDir = mkdtempSync(join(tmpdir(), 'regent-build-'));
  let snapshot: Snapshot | undefined;
  try {
    const signingKey = loadSigningKey(config.signing, { dataDir: workDir, dev: false, logger });
    snapshot = await progress.timed(`reading ${source}`, () => openSnapshot(source, flags, logger));
    const { createBuildPipeline, PROJECT_ROOT } = await import('../main.js');
    const pipeline = await createBuildPipeline(config, { dataDir: workDir, signingKey, projectRoot: PROJECT_ROOT, logger });
    const opened = snapshot;
    // The candidate check a running Regent puts every head through (compile steps, real OPA beside the
    // builder's check), then the packaging of what passed: the same bytes Regent would serve.
    const result = await progress.timed(`checking ${opened.entries.length} files with OPA (check, tests)`, () => pipeline.check.check({
      revision: opened.revision, entries: opened.entries, readBlobs: opened.readBlobs, priority: 'activation',
    }).catch((error: unknown) => {
      throw error instanceof CandidateCheckUnavailable ? error.reason : error;
    }));
    if (!result.ok) {
      if (flags.json) printJson(io, { ok: false, source: snapshot.source, revision: snapshot.revision, problems: result.problems, tests: result.tests });
      else io.stdout(`${result.problems.map((problem) => formatFinding(problem)).join('\n')}\n`);
      throw new CommandFailure(`${snapshot.source} fails the gate (${result.problems.length} problem(s), ${result.tests.failed} failed tests): no bundle written`);
    }
    const bundles = await progress.timed('building and signing the bundles', () => pipeline.builder.package(opened.revision, result.checked!));
    const output = resolve(flags.output);
    const written = bundles.map((bundle) => {
      const file = join(output, `${bundle.name}.tar.gz`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, bundle.tarball);
      return { name: bundle.name, file, revision: bundle.revision, etag: bundle.etag, bytes: bundle.tarball.length, files: bundle.fileCount, roots: bundle.manifest.roots, keyId: bundle.keyId };
    });
    if (flags.json) return printJson(io, { ok: true, source: snapshot.source, revision: snapshot.revision, tests: result.tests, bundles: written });
    io.stdout(`built ${written.length} bundle(s) of ${snapshot.source} at revision ${snapshot.revision} (${result.tests.passed} tests passed), signed with key '${signingKey.key.keyId}' (${signingKey.key.algorithm}):\n`);
    io.stdout(formatTable(written.map((bundle) => [`  ${bundle.file}`, formatBytes(bundle.bytes), `${bundle.files} files`, `roots ${bundle.roots.join(',')}`, `etag ${bundle.etag}`])));
  } finally {
    await snapshot?.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function openSnapshot(source: string, flags: BuildFlags, logger: ReturnType<typeof stderrLogger>): Promise<Snapshot> {
  const isDirectory = flags.store === undefined && statOrUndefined(source)?.isDirectory() === true;
  if (isDirectory) {
    const tree = await readDirectoryTree(source);
    return {
      revision: flags.revision ?? directoryRevision(tree.entries),
      source: resolve(source),
      entries: tree.entries,
      readBlobs: async (ids) => new Map(ids.map((id) => [id, tree.contents.get(id)!])),
      close: async () => undefined,
    };
  }
  const gitDir = flags.store === undefined ? gitDirOf(process.cwd()) : gitDirOf(flags.store);
  const tree = await openRevisionTree(gitDir, source, logger);
  return { revision: flags.revision ?? tree.revision, source: `${source} (${tree.revision}) of ${gitDir}`, entries: tree.entries, readBlobs: (ids) => tree.readBlobs(ids), close: () => tree.close() };
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** A directory's revision: a digest of its paths and contents, so the same files give the same bundles. */
function directoryRevision(entries: readonly TreeEntry[]): string {
  const hash = createHash('sha1');
  for (const entry of entries) hash.update(`${entry.kind} ${entry.blobId} ${entry.path}\0`);
  return hash.digest('hex');
}
