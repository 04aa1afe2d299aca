import { createHash } from 'node:crypto';
import type { GateProblem } from '../candidates/policy-gate.js';
import type { CompileOutcome, TreeCompiler } from '../candidates/tree-compiler.js';
import { policyFileKind } from '../bundles/policy-file.js';
import type { PolicySpec } from './policy-spec.js';
import { compiledPathOf } from './spec-package.js';
import { parseSpec } from './spec-parser.js';
import { specToRego } from './spec-rego.js';

const RECENT_OUTCOMES = 16;

export interface SpecCompilerOptions {
  /** Specs larger than this are refused unread (`file_too_large`); the builder's per-file limit is the natural value. */
  maxSpecBytes: number;
}

/**
 * The compile step for declarative role specs: `a/b/c.policy.yaml` becomes the module
 * `a/b/c.policy.rego` (package `a.b.c` unless the spec names another under its directory), which the
 * gate tests and the bundle ships; the spec itself stays in Git and is never shipped.
 */
export class SpecCompiler implements TreeCompiler {
  /** Recent outcomes by path and content: a write's validation and the activation that follows compile once. */
  private readonly recent = new Map<string, CompileOutcome>();

  private constructor(private readonly options: SpecCompilerOptions) {}

  static create(options: SpecCompilerOptions): SpecCompiler {
    return new SpecCompiler(options);
  }

  accepts(path: string): boolean {
    return policyFileKind(path) === 'spec';
  }

  compile(path: string, content: Buffer): CompileOutcome {
    const key = `${path}\0${createHash('sha256').update(content).digest('hex')}`;
    const known = this.recent.get(key);
    if (known) return known;
    const read = this.read(path, content);
    const module = read.spec ? { path: compiledPathOf(path), content: Buffer.from(specToRego(read.spec), 'utf8'), source: path } : undefined;
    const outcome: CompileOutcome = module ? { module: read.spec!.packageAt ? { ...module, packageAt: read.spec!.packageAt } : module, problems: [] } : { problems: read.problems };
    this.recent.set(key, outcome);
    if (this.recent.size > RECENT_OUTCOMES) this.recent.delete(this.recent.keys().next().value!);
    return outcome;
  }

  /** The spec in a file, or the problems (file, line, column) that stop it. */
  read(path: string, content: Buffer): { spec?: PolicySpec; problems: GateProblem[] } {
    if (content.length > this.options.maxSpecBytes) {
      return { problems: [{ code: 'file_too_large', message: `${path} is ${content.length} bytes; the limit is ${this.options.maxSpecBytes}`, file: path }] };
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(content);
    } catch {
      return { problems: [{ code: 'invalid_encoding', message: `${path} is not valid UTF-8`, file: path }] };
    }
    return parseSpec(path, text);
  }
}
