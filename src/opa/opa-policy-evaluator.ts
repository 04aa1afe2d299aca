import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, UnavailableError } from '../domain/errors.js';
import type { PolicyEvaluator } from '../domain/policies/policy-inspector.js';
import type { OpaCli } from './opa-cli.js';
import { withPolicyBundle } from './policy-bundle-file.js';

const QUERY = /^data(\.[A-Za-z_][A-Za-z0-9_]*){0,16}$/;

/**
 * `opa eval` of one data reference (`data.rbac.allow`) over a revision's modules and data, with the
 * same restricted capabilities as the gate. Only plain references are accepted: no arbitrary Rego.
 */
export class OpaPolicyEvaluator implements PolicyEvaluator {
  private constructor(private readonly opa: OpaCli, private readonly capabilitiesPath: string, private readonly workDir: string | undefined) {}

  static create(options: { opa: OpaCli; capabilitiesPath: string; workDir?: string }): OpaPolicyEvaluator {
    return new OpaPolicyEvaluator(options.opa, options.capabilitiesPath, options.workDir);
  }

  async evaluate(files: ReadonlyArray<{ path: string; content: Buffer }>, query: string, input: unknown): Promise<{ result: unknown; defined: boolean; durationMs: number }> {
    if (!QUERY.test(query)) throw new InputError('invalid_query', `'query' must be a data reference such as data.rbac.allow`, { field: 'query' });
    const started = performance.now();
    return withPolicyBundle(files, this.workDir, async (dir, bundle) => {
      const args = ['eval', '--format', 'json', '--capabilities', this.capabilitiesPath, '--bundle', bundle];
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
      const value = output.result?.[0]?.expressions?.[0]?.value;
      return { result: value, defined: output.result !== undefined && output.result.length > 0, durationMs: Math.round(performance.now() - started) };
    });
  }
}

interface EvalOutput {
  result?: Array<{ expressions?: Array<{ value?: unknown }> }>;
  errors?: Array<{ message?: string; location?: { file?: string; row?: number } }>;
}

function parse(text: string): EvalOutput | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as EvalOutput) : undefined;
  } catch {
    return undefined;
  }
}
