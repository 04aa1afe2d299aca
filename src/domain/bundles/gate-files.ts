import { createHash } from 'node:crypto';
import type { GateInput, GateProblem, GateReport, PolicyGate } from '../candidates/policy-gate.js';
import { policyFileKind, preparePolicyFile } from './policy-file.js';

export interface GateFiles {
  /** What OPA is given: modules and tests as they are, data in the form agents receive it. */
  files: Array<{ path: string; content: Buffer }>;
  /** Gate path → repository path, where they differ (`a/data.yaml` is judged as `a/data.json`). */
  sourceOf: Map<string, string>;
}

/**
 * The files the gate judges are the files agents run: data is given to OPA in its shipped form (the
 * canonical `data.json` the builder writes, YAML converted by Regent), never as the raw file OPA would
 * read its own way — OPA's YAML reader and Regent's disagree on YAML 1.1 corners (`010`, `1_000`,
 * `<<` merges), and tests must judge the value the fleet receives. Data that cannot be prepared is left
 * out: the builder refuses such a tree with the finding, which is a verdict of its own. The last tree's
 * conversions are remembered by path and content digest, so an unchanged 10 MiB data file is converted
 * once per head, and memory stays bounded by one tree.
 */
export class GateFileForms {
  private shipped = new Map<string, Buffer | null>();

  async forms(files: ReadonlyArray<{ path: string; content: Buffer }>): Promise<GateFiles> {
    const out: GateFiles = { files: [], sourceOf: new Map() };
    const previous = this.shipped;
    const next = new Map<string, Buffer | null>();
    for (const file of files) {
      if (policyFileKind(file.path) !== 'data') {
        out.files.push(file);
        continue;
      }
      const shipped = await shippedData(file.path, file.content, previous, next);
      if (!shipped) continue;
      const gatePath = file.path.replace(/data\.ya?ml$/, 'data.json');
      if (gatePath !== file.path) out.sourceOf.set(gatePath, file.path);
      out.files.push({ path: gatePath, content: shipped });
    }
    this.shipped = next;
    return out;
  }
}

async function shippedData(path: string, content: Buffer, previous: Map<string, Buffer | null>, next: Map<string, Buffer | null>): Promise<Buffer | undefined> {
  const key = `${path}\0${createHash('sha256').update(content).digest('hex')}`;
  let shipped = previous.get(key) ?? next.get(key);
  if (shipped === undefined) {
    try {
      shipped = (await preparePolicyFile(path, content)).content;
    } catch {
      shipped = null;
    }
  }
  next.set(key, shipped);
  return shipped ?? undefined;
}

/** OPA's findings with the repository's file names (`a/data.yaml`, not the `a/data.json` OPA was given). */
export function withSourcePaths(problems: readonly GateProblem[], sourceOf: ReadonlyMap<string, string>): GateProblem[] {
  if (sourceOf.size === 0) return [...problems];
  return problems.map((problem) => {
    const source = problem.file === undefined ? undefined : sourceOf.get(problem.file);
    return source === undefined ? problem : { ...problem, file: source };
  });
}

/**
 * A gate that judges what ships: data files are handed to `inner` in their shipped form
 * ({@link GateFileForms}) and OPA's findings are reported under the repository's file names.
 */
export class ShippedFormGate implements PolicyGate {
  private readonly forms = new GateFileForms();

  constructor(private readonly inner: PolicyGate) {}

  async check(input: GateInput): Promise<GateReport> {
    const { files, sourceOf } = await this.forms.forms(input.files);
    const report = await this.inner.check({ ...input, files });
    return sourceOf.size === 0 ? report : { ...report, problems: withSourcePaths(report.problems, sourceOf) };
  }
}
