import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, UnavailableError } from '../domain/errors.js';
import type { EvaluatedDecision, EvaluationGroup, EvaluationOutcome, ExplainMode, PolicyEvaluator } from '../domain/policies/policy-inspector.js';
import { batchQuery, readBatchAnswer } from './opa-batch-query.js';
import type { OpaCli } from './opa-cli.js';
import { explanationOf } from './opa-explanation.js';
import { withPolicyBundle } from './policy-bundle-file.js';

const QUERY = /^data(\.[A-Za-z_][A-Za-z0-9_]*){0,16}$/;

/**
 * `opa eval` of data references (`data.rbac.allow`) over a revision's modules and data, with the same
 * restricted capabilities as the gate, as interactive work of the runner (its budget, memory and output
 * limits). Only plain references are accepted: no arbitrary Rego.
 */
export class OpaPolicyEvaluator implements PolicyEvaluator {
  private constructor(private readonly opa: OpaCli, private readonly capabilitiesPath: string, private readonly workDir: string | undefined) {}

  static create(options: { opa: OpaCli; capabilitiesPath: string; workDir?: string }): OpaPolicyEvaluator {
    return new OpaPolicyEvaluator(options.opa, options.capabilitiesPath, options.workDir);
  }

  async evaluate(files: ReadonlyArray<{ path: string; content: Buffer }>, query: string, input: unknown, options: { explain?: ExplainMode } = {}): Promise<EvaluationOutcome> {
    checkQuery(query, 'query');
    const started = performance.now();
    const output = await this.eval(files, query, input, options.explain === undefined ? [] : ['--explain', options.explain]);
    const value = output.result?.[0]?.expressions?.[0]?.value;
    const outcome: EvaluationOutcome = { result: value, defined: output.result !== undefined && output.result.length > 0, durationMs: Math.round(performance.now() - started) };
    if (options.explain !== undefined) outcome.explanation = explanationOf(options.explain, output.explanation, query, files);
    return outcome;
  }

  async evaluateBatch(files: ReadonlyArray<{ path: string; content: Buffer }>, groups: readonly EvaluationGroup[]): Promise<EvaluatedDecision[][]> {
    groups.forEach((group, index) => checkQuery(group.query, `groups[${index}].query`));
    if (groups.length === 0) return [];
    const output = await this.eval(files, batchQuery(groups), groups.map((group) => group.inputs), []);
    const answers = output.result?.length === 1 ? readBatchAnswer(output.result[0]?.expressions?.[0]?.value, groups) : undefined;
    if (!answers) throw new UnavailableError('opa_unavailable', 'opa eval did not answer every input of the batch', { command: 'eval' });
    return answers;
  }

  /** Runs `opa eval` and returns its JSON output; an answer that is not OPA's is `opa_unavailable`, OPA's refusal `evaluation_failed`. */
  private async eval(files: ReadonlyArray<{ path: string; content: Buffer }>, query: string, input: unknown, extra: readonly string[]): Promise<EvalOutput> {
    return withPolicyBundle(files, this.workDir, async (dir, bundle) => {
      const args = ['eval', '--format', 'json', '--capabilities', this.capabilitiesPath, '--bundle', bundle, ...extra];
      if (input !== undefined) {
        await writeFile(join(dir, 'input.json'), JSON.stringify(input));
        args.push('--input', 'input.json');
      }
      args.push('--', query);
      const result = await this.opa.run(args, { cwd: dir, priority: 'interactive' });
      const output = parse(result.stdout) ?? parse(result.stderr);
      const first = output?.errors?.[0];
      if (result.exitCode !== 0 && typeof first?.message === 'string') {
        throw new InputError('evaluation_failed', `opa eval failed: ${first.message}`, { field: 'query', file: first.location?.file?.replace(/^\.?\//, ''), line: first.location?.row });
      }
      if (result.exitCode !== 0 || !output || output.errors !== undefined || (output.result !== undefined && !Array.isArray(output.result))) {
        // Not an answer OPA gives: no output, garbage, or an exit code that contradicts it.
        throw new UnavailableError('opa_unavailable', `opa eval gave no usable answer (exit ${result.exitCode}): ${(result.stderr.trim() || result.stdout.trim()).slice(0, 200) || 'no output'}`, { command: 'eval' });
      }
      return output;
    });
  }
}

function checkQuery(query: string, field: string): void {
  if (!QUERY.test(query)) throw new InputError('invalid_query', `'${field}' must be a data reference such as data.rbac.allow`, { field });
}

interface EvalOutput {
  result?: Array<{ expressions?: Array<{ value?: unknown }> }>;
  errors?: Array<{ message?: string; location?: { file?: string; row?: number } }>;
  explanation?: unknown;
}

function parse(text: string): EvalOutput | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as EvalOutput) : undefined;
  } catch {
    return undefined;
  }
}
