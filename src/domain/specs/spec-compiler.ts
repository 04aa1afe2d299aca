import type { GateProblem } from '../candidates/policy-gate.js';
import type { CompileOutcome, TreeCompiler } from '../candidates/tree-compiler.js';
import { policyFileKind } from '../bundles/policy-file.js';
import type { PolicySpec } from './policy-spec.js';
import { compiledPathOf } from './spec-package.js';
import { parseSpec } from './spec-parser.js';
import { specToRego } from './spec-rego.js';

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
  private constructor(private readonly options: SpecCompilerOptions) {}

  static create(options: SpecCompilerOptions): SpecCompiler {
    return new SpecCompiler(options);
  }

  accepts(path: string): boolean {
    return policyFileKind(path) === 'spec';
  }

  compile(path: string, content: Buffer): CompileOutcome {
    const read = this.read(path, content);
    if (!read.spec) return { problems: read.problems };
    const module = { path: compiledPathOf(path), content: Buffer.from(specToRego(read.spec), 'utf8'), source: path };
    return { module: read.spec.packageAt ? { ...module, packageAt: read.spec.packageAt } : module, problems: [] };
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
